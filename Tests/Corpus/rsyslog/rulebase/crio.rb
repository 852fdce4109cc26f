version=2
rule=:%time:word% %stream:word% %partial:word% %log:rest%
