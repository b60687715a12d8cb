# Shorthands for the README's commands where make is installed; scripts/dev.sh does the work
# (installs what is missing, then runs), and needs nothing but bash.
.PHONY: demo test
demo:
	scripts/dev.sh demo
test:
	scripts/dev.sh test
