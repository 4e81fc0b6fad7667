.PHONY: run test shell
run:
	./dev.sh run
test:
	./dev.sh test
shell:
	./dev.sh shell
