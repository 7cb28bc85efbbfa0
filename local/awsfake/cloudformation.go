package awsfake

import (
	"context"
	"encoding/xml"
	"maps"
	"net/url"
	"sort"
	"sync"
	"time"
)

// CloudFormation emulates DescribeStacks, which fleetctl and fleet-local use to read
// the stack's outputs. It speaks awsQuery: form POST in, XML out, errors in
// <ErrorResponse>; a missing stack is HTTP 400 ValidationError "Stack with id X does
// not exist" (fixtures/aws/cloudformation). Stacks and outputs are set by the owner.
type CloudFormation struct {
	s      *Server
	mu     sync.Mutex
	stacks []*cfnStack // creation order
}

type cfnStack struct {
	name, id string
	status   string
	created  time.Time
	outputs  map[string]string
}

func newCloudFormation(s *Server) *CloudFormation {
	c := &CloudFormation{s: s}
	s.register(&service{
		id: "cloudformation", contentType: "text/xml", query: true,
		ops: map[string]opFunc{"DescribeStacks": c.describeStacks},
	})
	return c
}

// SetStack creates the stack name in CREATE_COMPLETE (or, when it exists, replaces its
// outputs and marks it UPDATE_COMPLETE) and returns its stack id.
func (c *CloudFormation) SetStack(name string, outputs map[string]string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.live(name); st != nil {
		st.outputs, st.status = maps.Clone(outputs), "UPDATE_COMPLETE"
		return st.id
	}
	st := &cfnStack{name: name, status: "CREATE_COMPLETE", created: c.s.now(), outputs: maps.Clone(outputs)}
	st.id = c.s.arn("cloudformation", "stack/"+name+"/"+c.s.newID("stack"))
	c.stacks = append(c.stacks, st)
	return st.id
}

// DeleteStack marks the stack DELETE_COMPLETE: by name it no longer exists, by stack
// id it still describes, as in CloudFormation.
func (c *CloudFormation) DeleteStack(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.live(name); st != nil {
		st.status = "DELETE_COMPLETE"
	}
}

func (c *CloudFormation) live(name string) *cfnStack {
	for _, st := range c.stacks {
		if st.name == name && st.status != "DELETE_COMPLETE" {
			return st
		}
	}
	return nil
}

type cfnOutput struct {
	OutputKey   string
	OutputValue string
}

type cfnStackXML struct {
	StackName       string
	StackId         string
	CreationTime    string
	StackStatus     string
	DisableRollback bool
	Outputs         *struct {
		Member []cfnOutput `xml:"member"`
	} `xml:"Outputs,omitempty"`
}

type describeStacksResponse struct {
	XMLName xml.Name `xml:"DescribeStacksResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Result  struct {
		Stacks struct {
			Member []cfnStackXML `xml:"member"`
		}
	} `xml:"DescribeStacksResult"`
	RequestID string `xml:"ResponseMetadata>RequestId"`
}

func (c *CloudFormation) describeStacks(_ context.Context, body []byte) (any, error) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, errorf("MalformedQueryString", "%v", err)
	}
	name := form.Get("StackName")
	c.mu.Lock()
	defer c.mu.Unlock()
	var found []*cfnStack
	for _, st := range c.stacks {
		switch {
		case name == "" && st.status != "DELETE_COMPLETE",
			name == st.id,
			name == st.name && st.status != "DELETE_COMPLETE":
			found = append(found, st)
		}
	}
	if name != "" && len(found) == 0 {
		return nil, &APIError{Code: "ValidationError", Message: "Stack with id " + name + " does not exist", Type: "Sender"}
	}
	resp := describeStacksResponse{Xmlns: "http://cloudformation.amazonaws.com/doc/2010-05-15/", RequestID: c.s.requestID()}
	resp.Result.Stacks.Member = []cfnStackXML{}
	for _, st := range found {
		sx := cfnStackXML{StackName: st.name, StackId: st.id, CreationTime: st.created.UTC().Format(time.RFC3339), StackStatus: st.status}
		if len(st.outputs) > 0 {
			keys := make([]string, 0, len(st.outputs))
			for k := range st.outputs {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			sx.Outputs = &struct {
				Member []cfnOutput `xml:"member"`
			}{}
			for _, k := range keys {
				sx.Outputs.Member = append(sx.Outputs.Member, cfnOutput{OutputKey: k, OutputValue: st.outputs[k]})
			}
		}
		resp.Result.Stacks.Member = append(resp.Result.Stacks.Member, sx)
	}
	data, err := xml.Marshal(resp)
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), data...), nil
}
