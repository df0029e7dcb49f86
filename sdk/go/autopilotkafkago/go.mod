module autopilot-go/autopilotkafkago

go 1.22

require (
	autopilot-go v0.0.0
	github.com/segmentio/kafka-go v0.4.48
)

require (
	github.com/klauspost/compress v1.17.11 // indirect
	github.com/pierrec/lz4/v4 v4.1.22 // indirect
)

replace autopilot-go => ../
