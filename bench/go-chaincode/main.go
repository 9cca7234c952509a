// A put/get/event chaincode on fabric-chaincode-go's raw shim, served as CCaaS: the Go arm of
// `qcchain bench fabric-chaincode`. Same behaviour as qcchain_bench.example's KVContract and
// bench/node-chaincode: "kv:put" key value reads the key, writes it and emits a "Put" event;
// "kv:get" key answers the value (404 when absent). Built at run time against Fabric's vendor tree only.
package main

import (
	"log"
	"os"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	pb "github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

type kv struct{}

func (kv) Init(stub shim.ChaincodeStubInterface) *pb.Response { return shim.Success(nil) }

func (kv) Invoke(stub shim.ChaincodeStubInterface) *pb.Response {
	fn, args := stub.GetFunctionAndParameters()
	switch fn {
	case "kv:put", "put":
		if len(args) != 2 {
			return shim.Error("put needs key and value")
		}
		prev, err := stub.GetState(args[0])
		if err != nil {
			return shim.Error(err.Error())
		}
		if err := stub.PutState(args[0], []byte(args[1])); err != nil {
			return shim.Error(err.Error())
		}
		if err := stub.SetEvent("Put", []byte(args[0])); err != nil {
			return shim.Error(err.Error())
		}
		if len(prev) > 0 {
			return shim.Success([]byte("updated"))
		}
		return shim.Success([]byte("created"))
	case "kv:get", "get":
		if len(args) != 1 {
			return shim.Error("get needs key")
		}
		v, err := stub.GetState(args[0])
		if err != nil {
			return shim.Error(err.Error())
		}
		if len(v) == 0 {
			return &pb.Response{Status: 404, Message: "key " + args[0] + " not found"}
		}
		return shim.Success(v)
	}
	return shim.Error("unknown function " + fn)
}

func main() {
	server := &shim.ChaincodeServer{
		CCID:     os.Getenv("CHAINCODE_ID"),
		Address:  os.Getenv("CHAINCODE_SERVER_ADDRESS"),
		CC:       kv{},
		TLSProps: shim.TLSProperties{Disabled: true},
	}
	if err := server.Start(); err != nil {
		log.Fatalf("chaincode server: %v", err)
	}
}
