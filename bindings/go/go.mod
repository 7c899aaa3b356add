module github.com/litecommit/litecommit/bindings/go

go 1.22
