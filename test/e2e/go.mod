module github.com/prodscope/prodscope/test/e2e

go 1.26
