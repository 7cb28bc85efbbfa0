package awsfake

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SSM emulates Parameter Store's GetParameter and PutParameter (the class table lives
// in a String parameter). Shapes follow fixtures/aws/ssm/get-parameter.json: ARN,
// DataType "text", LastModifiedDate in epoch seconds, Version counting from 1.
// ParameterNotFound carries no message (one of the two observed forms; the SDK returns
// *types.ParameterNotFound either way). SecureString values are stored and returned as
// given: the fake does not encrypt them.
type SSM struct {
	s      *Server
	mu     sync.Mutex
	params map[string]*ssmParam
}

type ssmParam struct {
	name, typ, dataType, description string
	versions                         []ssmVersion // index = version-1
}

type ssmVersion struct {
	value    string
	modified time.Time
}

// ssmMaxValue is the Standard tier's value limit (4 KB).
const ssmMaxValue = 4096

func newSSM(s *Server) *SSM {
	p := &SSM{s: s, params: map[string]*ssmParam{}}
	s.register(&service{
		id: "ssm", prefix: "AmazonSSM", contentType: "application/x-amz-json-1.1",
		messageField: "message",
		ops: map[string]opFunc{
			"GetParameter": jsonOp(p.getParameter),
			"PutParameter": jsonOp(p.putParameter),
		},
	})
	return p
}

// Put stores value as a new version of the String parameter name (creating it) and
// returns the version.
func (p *SSM) Put(name, value string) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.put(name, "String", "text", "", value)
}

func (p *SSM) put(name, typ, dataType, description, value string) int64 {
	prm := p.params[name]
	if prm == nil {
		prm = &ssmParam{name: name, typ: typ, dataType: dataType}
		p.params[name] = prm
	}
	if typ != "" {
		prm.typ = typ
	}
	if description != "" {
		prm.description = description
	}
	prm.versions = append(prm.versions, ssmVersion{value: value, modified: p.s.now()})
	return int64(len(prm.versions))
}

func (p *SSM) paramARN(name string) string {
	if !strings.HasPrefix(name, "/") {
		name = "/" + name
	}
	return p.s.arn("ssm", "parameter"+name)
}

type getParameterInput struct {
	Name           string
	WithDecryption bool
}

type parameterJSON struct {
	Name             string
	Type             string
	Value            string
	Version          int64
	Selector         string `json:",omitempty"`
	LastModifiedDate *epochTime
	ARN              string
	DataType         string
}

func (p *SSM) getParameter(_ context.Context, in *getParameterInput) (any, error) {
	if in.Name == "" {
		return nil, validationError("Value null at 'name' failed to satisfy constraint: Member must not be null")
	}
	name := strings.TrimPrefix(in.Name, p.s.arn("ssm", "parameter"))
	selector := ""
	if i := strings.LastIndex(name, ":"); i > 0 {
		name, selector = name[:i], name[i:]
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	prm := p.params[name]
	if prm == nil && name != in.Name {
		// An ARN names "parameter/x" for both "x" and "/x".
		prm = p.params[strings.TrimPrefix(name, "/")]
	}
	if prm == nil {
		return nil, &APIError{Code: "ParameterNotFound", NoMessage: true}
	}
	version := int64(len(prm.versions))
	if selector != "" {
		n, err := strconv.ParseInt(selector[1:], 10, 64)
		if err != nil || n < 1 || n > version {
			return nil, &APIError{Code: "ParameterVersionNotFound", Message: "Systems Manager could not find version " + selector[1:] + " of " + name + ". Verify the version and try again."}
		}
		version = n
	}
	v := prm.versions[version-1]
	return map[string]any{"Parameter": parameterJSON{
		Name: prm.name, Type: prm.typ, Value: v.value, Version: version, Selector: selector,
		LastModifiedDate: ts(v.modified), ARN: p.paramARN(prm.name), DataType: prm.dataType,
	}}, nil
}

type putParameterInput struct {
	Name        string
	Value       string
	Type        string
	Overwrite   bool
	Description string
	DataType    string
	Tier        string
}

func (p *SSM) putParameter(_ context.Context, in *putParameterInput) (any, error) {
	switch {
	case in.Name == "" || len(in.Name) > 2048:
		return nil, validationError("Value at 'name' failed to satisfy constraint: Member must have length between 1 and 2048")
	case in.Value == "":
		return nil, validationError("Value at 'value' failed to satisfy constraint: Member must have length greater than or equal to 1")
	case len(in.Value) > ssmMaxValue && in.Tier != "Advanced":
		return nil, validationError("Value at 'value' failed to satisfy constraint: Member must have length less than or equal to %d", ssmMaxValue)
	case in.Type != "" && in.Type != "String" && in.Type != "StringList" && in.Type != "SecureString":
		return nil, validationError("Value '%s' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [SecureString, StringList, String]", in.Type)
	}
	dataType := in.DataType
	if dataType == "" {
		dataType = "text"
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if prm := p.params[in.Name]; prm != nil {
		if !in.Overwrite {
			return nil, errorf("ParameterAlreadyExists", "The parameter already exists. To overwrite this value, set the overwrite option in the request to true.")
		}
	} else if in.Type == "" {
		return nil, validationError("A parameter type is required when you create a parameter.")
	}
	tier := in.Tier
	if tier == "" || tier == "Intelligent-Tiering" {
		tier = "Standard"
	}
	return map[string]any{"Version": p.put(in.Name, in.Type, dataType, in.Description, in.Value), "Tier": tier}, nil
}
