// A separate module, so that the product never links go-pdk's server
// package (it registers global flags at init and needs ugorji/go/codec).
// It exists only to measure go-pdk's embedded server as a baseline.
module github.com/gatewatch/gatewatch/pkg/pluginserver/gopdkbench

go 1.26.0

require (
	github.com/Kong/go-pdk v0.11.2
	github.com/gatewatch/gatewatch v0.0.0
)

require (
	github.com/ugorji/go/codec v1.2.14 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)

replace github.com/gatewatch/gatewatch => ../../..
