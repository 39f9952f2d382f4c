module github.com/prodscope/prodscope/examples/shopdemo

go 1.26
