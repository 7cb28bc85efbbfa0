package awsfake

import (
	"context"
	"crypto/sha256"
	"strings"
	"sync"
	"time"
)

// SecretsManager emulates the Secrets Manager operations the fleet uses: GetSecretValue
// (by name, full ARN or partial ARN), PutSecretValue and CreateSecret. Shapes and the
// not-found answer follow fixtures/aws/secretsmanager/get-secret-value.recorded.json;
// Secrets Manager's error member is "Message" (capital M).
type SecretsManager struct {
	s  *Server
	mu sync.Mutex
	// secrets by name
	secrets map[string]*secret
}

type secret struct {
	name, arn, description string
	created                time.Time
	versions               map[string]*secretVersion // by version id
	order                  []string                  // version ids, oldest first
}

type secretVersion struct {
	id      string
	str     *string
	bin     []byte
	stages  []string
	created time.Time
}

func newSecretsManager(s *Server) *SecretsManager {
	sm := &SecretsManager{s: s, secrets: map[string]*secret{}}
	s.register(&service{
		id: "secretsmanager", prefix: "secretsmanager", contentType: "application/x-amz-json-1.1",
		messageField: "Message",
		ops: map[string]opFunc{
			"GetSecretValue": jsonOp(sm.getSecretValue),
			"PutSecretValue": jsonOp(sm.putSecretValue),
			"CreateSecret":   jsonOp(sm.createSecret),
		},
	})
	return sm
}

// Put stores value as the AWSCURRENT version of the secret name, creating the secret if
// needed, and returns the secret's ARN. It is the owner's shortcut for CreateSecret or
// PutSecretValue.
func (sm *SecretsManager) Put(name, value string) string {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	sec := sm.secrets[name]
	if sec == nil {
		sec = sm.create(name, "")
	}
	sm.addVersion(sec, sm.s.newID("secret-version"), &value, nil, nil)
	return sec.arn
}

func (sm *SecretsManager) create(name, description string) *secret {
	// AWS appends a dash and six random characters to the name in the ARN; here they
	// derive from the name so ARNs repeat across runs.
	h := sha256.Sum256([]byte(name))
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	suffix := make([]byte, 6)
	for i := range suffix {
		suffix[i] = alphabet[int(h[i])%len(alphabet)]
	}
	sec := &secret{
		name: name, description: description, created: sm.s.now(),
		arn:      sm.s.arn("secretsmanager", "secret:"+name+"-"+string(suffix)),
		versions: map[string]*secretVersion{},
	}
	sm.secrets[name] = sec
	return sec
}

// addVersion makes a new version current (or gives it the stages asked for), moving
// AWSCURRENT's previous holder to AWSPREVIOUS, as PutSecretValue does.
func (sm *SecretsManager) addVersion(sec *secret, id string, str *string, bin []byte, stages []string) *secretVersion {
	if len(stages) == 0 {
		stages = []string{"AWSCURRENT"}
	}
	v := &secretVersion{id: id, str: str, bin: bin, created: sm.s.now()}
	for _, stage := range stages {
		for _, old := range sec.versions {
			if old.removeStage(stage) && stage == "AWSCURRENT" {
				for _, o := range sec.versions {
					o.removeStage("AWSPREVIOUS")
				}
				old.stages = append(old.stages, "AWSPREVIOUS")
			}
		}
	}
	v.stages = append(v.stages, stages...)
	sec.versions[id] = v
	sec.order = append(sec.order, id)
	return v
}

func (v *secretVersion) removeStage(stage string) bool {
	for i, st := range v.stages {
		if st == stage {
			v.stages = append(v.stages[:i], v.stages[i+1:]...)
			return true
		}
	}
	return false
}

func (v *secretVersion) hasStage(stage string) bool {
	for _, st := range v.stages {
		if st == stage {
			return true
		}
	}
	return false
}

var errSecretNotFound = &APIError{Code: "ResourceNotFoundException", Message: "Secrets Manager can't find the specified secret."}

// lookup finds a secret by name, full ARN, or partial ARN (the ARN without its
// six-character suffix), as AWS resolves SecretId.
func (sm *SecretsManager) lookup(id string) *secret {
	if sec := sm.secrets[id]; sec != nil {
		return sec
	}
	if !strings.HasPrefix(id, "arn:") {
		return nil
	}
	for _, sec := range sm.secrets {
		if sec.arn == id || sec.arn[:len(sec.arn)-7] == id {
			return sec
		}
	}
	return nil
}

type getSecretValueInput struct {
	SecretId     string
	VersionId    string
	VersionStage string
}

type secretValueOutput struct {
	ARN           string
	Name          string
	VersionId     string
	SecretString  *string    `json:",omitempty"`
	SecretBinary  []byte     `json:",omitempty"`
	VersionStages []string   `json:",omitempty"`
	CreatedDate   *epochTime `json:",omitempty"`
}

func (sm *SecretsManager) getSecretValue(_ context.Context, in *getSecretValueInput) (any, error) {
	if in.SecretId == "" {
		return nil, validationError("Value null at 'secretId' failed to satisfy constraint: Member must not be null")
	}
	sm.mu.Lock()
	defer sm.mu.Unlock()
	sec := sm.lookup(in.SecretId)
	if sec == nil {
		return nil, errSecretNotFound
	}
	var v *secretVersion
	switch {
	case in.VersionId != "":
		v = sec.versions[in.VersionId]
		if v == nil || (in.VersionStage != "" && !v.hasStage(in.VersionStage)) {
			return nil, errorf("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for VersionId: %s", in.VersionId)
		}
	default:
		stage := in.VersionStage
		if stage == "" {
			stage = "AWSCURRENT"
		}
		for _, id := range sec.order {
			if sec.versions[id].hasStage(stage) {
				v = sec.versions[id]
			}
		}
		if v == nil {
			// Also the answer for a secret created without a value.
			return nil, errorf("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for staging label: %s", stage)
		}
	}
	return &secretValueOutput{
		ARN: sec.arn, Name: sec.name, VersionId: v.id, SecretString: v.str, SecretBinary: v.bin,
		VersionStages: append([]string(nil), v.stages...), CreatedDate: ts(v.created),
	}, nil
}

type putSecretValueInput struct {
	SecretId           string
	ClientRequestToken string
	SecretString       *string
	SecretBinary       []byte
	VersionStages      []string
}

type putSecretValueOutput struct {
	ARN           string
	Name          string
	VersionId     string
	VersionStages []string
}

func (sm *SecretsManager) putSecretValue(_ context.Context, in *putSecretValueInput) (any, error) {
	if in.SecretId == "" {
		return nil, validationError("Value null at 'secretId' failed to satisfy constraint: Member must not be null")
	}
	if err := checkSecretValue(in.SecretString, in.SecretBinary); err != nil {
		return nil, err
	}
	sm.mu.Lock()
	defer sm.mu.Unlock()
	sec := sm.lookup(in.SecretId)
	if sec == nil {
		return nil, errSecretNotFound
	}
	id := in.ClientRequestToken
	if id == "" {
		id = sm.s.newID("secret-version")
	}
	if v := sec.versions[id]; v != nil {
		// Idempotent retry with the same token and value; a different value is refused.
		if sameValue(v, in.SecretString, in.SecretBinary) {
			return &putSecretValueOutput{ARN: sec.arn, Name: sec.name, VersionId: v.id, VersionStages: append([]string(nil), v.stages...)}, nil
		}
		return nil, errorf("ResourceExistsException", "You can't modify an existing version, you can only create a new version.")
	}
	v := sm.addVersion(sec, id, in.SecretString, in.SecretBinary, in.VersionStages)
	return &putSecretValueOutput{ARN: sec.arn, Name: sec.name, VersionId: v.id, VersionStages: append([]string(nil), v.stages...)}, nil
}

type createSecretInput struct {
	Name               string
	Description        string
	ClientRequestToken string
	SecretString       *string
	SecretBinary       []byte
}

type createSecretOutput struct {
	ARN       string
	Name      string
	VersionId string `json:",omitempty"`
}

func (sm *SecretsManager) createSecret(_ context.Context, in *createSecretInput) (any, error) {
	if in.Name == "" || len(in.Name) > 512 {
		return nil, validationError("Value at 'name' failed to satisfy constraint: Member must have length between 1 and 512")
	}
	if in.SecretString != nil && in.SecretBinary != nil {
		return nil, errorf("InvalidParameterException", "You can't specify both a binary secret value and a string secret value in the same secret.")
	}
	if in.SecretString != nil || in.SecretBinary != nil {
		if err := checkSecretValue(in.SecretString, in.SecretBinary); err != nil {
			return nil, err
		}
	}
	sm.mu.Lock()
	defer sm.mu.Unlock()
	if sm.secrets[in.Name] != nil {
		return nil, errorf("ResourceExistsException", "The operation failed because the secret %s already exists.", in.Name)
	}
	sec := sm.create(in.Name, in.Description)
	out := &createSecretOutput{ARN: sec.arn, Name: sec.name}
	if in.SecretString != nil || in.SecretBinary != nil {
		id := in.ClientRequestToken
		if id == "" {
			id = sm.s.newID("secret-version")
		}
		out.VersionId = sm.addVersion(sec, id, in.SecretString, in.SecretBinary, nil).id
	}
	return out, nil
}

// checkSecretValue enforces "exactly one of SecretString and SecretBinary, at most
// 65,536 bytes".
func checkSecretValue(str *string, bin []byte) error {
	switch {
	case str != nil && bin != nil:
		return errorf("InvalidParameterException", "You can't specify both a binary secret value and a string secret value in the same secret.")
	case str == nil && bin == nil:
		return errorf("InvalidRequestException", "You must provide either SecretString or SecretBinary.")
	case str != nil && len(*str) > 65536, len(bin) > 65536:
		return validationError("Value at 'secretString' failed to satisfy constraint: Member must have length less than or equal to 65536")
	}
	return nil
}

func sameValue(v *secretVersion, str *string, bin []byte) bool {
	if (v.str == nil) != (str == nil) {
		return false
	}
	if str != nil && *v.str != *str {
		return false
	}
	return string(v.bin) == string(bin)
}
