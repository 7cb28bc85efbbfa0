package awsfake

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// KMS emulates the KMS operations the fleet's sealing uses: Encrypt, Decrypt and
// GenerateDataKey over symmetric keys, plus CreateKey, CreateAlias and DescribeKey to
// set keys up. Encryption is real AES-256-GCM with the encryption context bound as
// additional data, so a ciphertext opens only under the exact context it was sealed
// with; any mismatch answers HTTP 400 InvalidCiphertextException with no message, as
// recorded (fixtures/aws/kms/encryption-context.recorded.json). KeyId is always
// answered as the key ARN. Encrypt refuses more than 4096 bytes of plaintext.
type KMS struct {
	s       *Server
	mu      sync.Mutex
	keys    map[string]*kmsKey // by key id
	aliases map[string]string  // "alias/name" -> key id
}

type kmsKey struct {
	id, arn     string
	description string
	material    []byte // 32 bytes
	enabled     bool
	created     time.Time
}

// kmsMaxPlaintext is Encrypt's plaintext limit; larger data needs a data key.
const kmsMaxPlaintext = 4096

func newKMS(s *Server) *KMS {
	k := &KMS{s: s, keys: map[string]*kmsKey{}, aliases: map[string]string{}}
	s.register(&service{
		id: "kms", prefix: "TrentService", contentType: "application/x-amz-json-1.1",
		messageField: "message",
		ops: map[string]opFunc{
			"Encrypt":         jsonOp(k.encrypt),
			"Decrypt":         jsonOp(k.decrypt),
			"GenerateDataKey": jsonOp(k.generateDataKey),
			"CreateKey":       jsonOp(k.createKeyOp),
			"CreateAlias":     jsonOp(k.createAlias),
			"DescribeKey":     jsonOp(k.describeKey),
		},
	})
	return k
}

// CreateKey makes an enabled symmetric key, points each alias ("alias/fleet" or
// "fleet") at it, and returns the key ARN.
func (k *KMS) CreateKey(description string, aliases ...string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	key, err := k.newKey(description)
	if err != nil {
		return "", err
	}
	for _, a := range aliases {
		if !strings.HasPrefix(a, "alias/") {
			a = "alias/" + a
		}
		if err := k.addAlias(a, key.id); err != nil {
			return "", fmt.Errorf("create key alias %s: %w", a, err)
		}
	}
	return key.arn, nil
}

// SetKeyEnabled enables or disables a key (id, ARN or alias); a disabled key answers
// DisabledException.
func (k *KMS) SetKeyEnabled(keyID string, enabled bool) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	key, err := k.resolve(keyID)
	if err != nil {
		return fmt.Errorf("set key %s enabled: %w", keyID, err)
	}
	key.enabled = enabled
	return nil
}

func (k *KMS) newKey(description string) (*kmsKey, error) {
	material := make([]byte, 32)
	if _, err := rand.Read(material); err != nil {
		return nil, fmt.Errorf("generate key material: %w", err)
	}
	id := k.s.newID("kms-key")
	key := &kmsKey{id: id, arn: k.s.arn("kms", "key/"+id), description: description, material: material, enabled: true, created: k.s.now()}
	k.keys[id] = key
	return key, nil
}

func (k *KMS) addAlias(alias, keyID string) error {
	name := strings.TrimPrefix(alias, "alias/")
	if !strings.HasPrefix(alias, "alias/") || name == "" || strings.HasPrefix(alias, "alias/aws/") || len(alias) > 256 {
		return errorf("InvalidAliasNameException", "Alias must start with the prefix \"alias/\" and must not begin with \"alias/aws/\"")
	}
	if _, ok := k.aliases[alias]; ok {
		return errorf("AlreadyExistsException", "An alias with the name %s already exists", k.s.arn("kms", alias))
	}
	k.aliases[alias] = keyID
	return nil
}

// resolve finds a key by id, key ARN, alias name or alias ARN, answering AWS's
// NotFoundException otherwise.
func (k *KMS) resolve(keyID string) (*kmsKey, error) {
	id := keyID
	switch {
	case strings.HasPrefix(keyID, "alias/"), strings.HasPrefix(keyID, "arn:aws:kms:") && strings.Contains(keyID, ":alias/"):
		alias := keyID
		if i := strings.Index(keyID, ":alias/"); i >= 0 {
			if keyID[:i+1] != k.s.arn("kms", "") {
				return nil, errorf("NotFoundException", "Alias %s is not found.", keyID)
			}
			alias = keyID[i+1:]
		}
		target, ok := k.aliases[alias]
		if !ok {
			return nil, errorf("NotFoundException", "Alias %s is not found.", k.s.arn("kms", alias))
		}
		id = target
	case strings.HasPrefix(keyID, "arn:"):
		prefix := k.s.arn("kms", "key/")
		if !strings.HasPrefix(keyID, prefix) {
			return nil, errorf("NotFoundException", "Key '%s' does not exist", keyID)
		}
		id = strings.TrimPrefix(keyID, prefix)
	case keyID == "":
		return nil, validationError("Value null at 'keyId' failed to satisfy constraint: Member must not be null")
	case len(keyID) != 36:
		return nil, errorf("NotFoundException", "Invalid keyId '%s'", keyID)
	}
	key := k.keys[id]
	if key == nil {
		return nil, errorf("NotFoundException", "Key '%s' does not exist", k.s.arn("kms", "key/"+id))
	}
	return key, nil
}

func (k *KMS) usable(keyID string) (*kmsKey, error) {
	key, err := k.resolve(keyID)
	if err != nil {
		return nil, err
	}
	if !key.enabled {
		return nil, errorf("DisabledException", "%s is disabled.", key.arn)
	}
	return key, nil
}

func checkAlgorithm(alg string) error {
	if alg != "" && alg != "SYMMETRIC_DEFAULT" {
		return errorf("InvalidKeyUsageException", "The request is not valid for the current key usage (algorithm %s is not supported by a symmetric key)", alg)
	}
	return nil
}

// --- ciphertext format ----------------------------------------------------------
//
//	version(1) | len(keyID)(1) | keyID | nonce(12) | AES-GCM(plaintext)
//
// The additional data is the header plus the canonical encryption context (sorted
// key/value pairs, each length-prefixed), so changing either breaks the seal.

const kmsBlobVersion = 1

func contextAAD(header []byte, ec map[string]string) []byte {
	aad := append([]byte(nil), header...)
	keys := make([]string, 0, len(ec))
	for key := range ec {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		for _, s := range []string{key, ec[key]} {
			aad = binary.BigEndian.AppendUint32(aad, uint32(len(s)))
			aad = append(aad, s...)
		}
	}
	return aad
}

func (key *kmsKey) seal(plaintext []byte, ec map[string]string) ([]byte, error) {
	block, err := aes.NewCipher(key.material)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	header := append([]byte{kmsBlobVersion, byte(len(key.id))}, key.id...)
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out := append(header, nonce...)
	return gcm.Seal(out, nonce, plaintext, contextAAD(header, ec)), nil
}

// blobKeyID reads the key id from a ciphertext header.
func blobKeyID(blob []byte) (string, bool) {
	if len(blob) < 2 || blob[0] != kmsBlobVersion || len(blob) < 2+int(blob[1])+12+16 {
		return "", false
	}
	return string(blob[2 : 2+int(blob[1])]), true
}

func (key *kmsKey) open(blob []byte, ec map[string]string) ([]byte, bool) {
	block, err := aes.NewCipher(key.material)
	if err != nil {
		return nil, false
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, false
	}
	hl := 2 + int(blob[1])
	header, nonce, sealed := blob[:hl], blob[hl:hl+gcm.NonceSize()], blob[hl+gcm.NonceSize():]
	pt, err := gcm.Open(nil, nonce, sealed, contextAAD(header, ec))
	return pt, err == nil
}

// errInvalidCiphertext is KMS's answer to a ciphertext that does not open: no message.
var errInvalidCiphertext = &APIError{Code: "InvalidCiphertextException", NoMessage: true}

// --- operations -----------------------------------------------------------------

type encryptInput struct {
	KeyId               string
	Plaintext           []byte
	EncryptionContext   map[string]string
	EncryptionAlgorithm string
}

type encryptOutput struct {
	CiphertextBlob      []byte
	KeyId               string
	EncryptionAlgorithm string
}

func (k *KMS) encrypt(_ context.Context, in *encryptInput) (any, error) {
	switch {
	case len(in.Plaintext) == 0:
		return nil, validationError("Value at 'plaintext' failed to satisfy constraint: Member must have length greater than or equal to 1")
	case len(in.Plaintext) > kmsMaxPlaintext:
		// AWS names the field but never echoes a sensitive value.
		return nil, validationError("Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to %d", kmsMaxPlaintext)
	}
	if err := checkAlgorithm(in.EncryptionAlgorithm); err != nil {
		return nil, err
	}
	k.mu.Lock()
	key, err := k.usable(in.KeyId)
	k.mu.Unlock()
	if err != nil {
		return nil, err
	}
	blob, err := key.seal(in.Plaintext, in.EncryptionContext)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return &encryptOutput{CiphertextBlob: blob, KeyId: key.arn, EncryptionAlgorithm: "SYMMETRIC_DEFAULT"}, nil
}

type decryptInput struct {
	CiphertextBlob      []byte
	KeyId               string
	EncryptionContext   map[string]string
	EncryptionAlgorithm string
}

type decryptOutput struct {
	KeyId               string
	Plaintext           []byte
	EncryptionAlgorithm string
	KeyMaterialId       string
}

func (k *KMS) decrypt(_ context.Context, in *decryptInput) (any, error) {
	if len(in.CiphertextBlob) == 0 || len(in.CiphertextBlob) > 6144 {
		return nil, validationError("Value at 'ciphertextBlob' failed to satisfy constraint: Member must have length between 1 and 6144")
	}
	if err := checkAlgorithm(in.EncryptionAlgorithm); err != nil {
		return nil, err
	}
	blobID, ok := blobKeyID(in.CiphertextBlob)
	if !ok {
		return nil, errInvalidCiphertext
	}
	k.mu.Lock()
	var key *kmsKey
	var err error
	if in.KeyId != "" {
		key, err = k.usable(in.KeyId)
		if err == nil && key.id != blobID {
			err = errorf("IncorrectKeyException", "The key ID in the request does not identify a CMK that can perform this operation.")
		}
	} else if key = k.keys[blobID]; key == nil {
		err = errInvalidCiphertext
	} else if !key.enabled {
		err = errorf("DisabledException", "%s is disabled.", key.arn)
	}
	k.mu.Unlock()
	if err != nil {
		return nil, err
	}
	pt, ok := key.open(in.CiphertextBlob, in.EncryptionContext)
	if !ok {
		return nil, errInvalidCiphertext
	}
	return &decryptOutput{KeyId: key.arn, Plaintext: pt, EncryptionAlgorithm: "SYMMETRIC_DEFAULT", KeyMaterialId: key.materialID()}, nil
}

// materialID names the key's material without revealing it.
func (key *kmsKey) materialID() string {
	h := sha256.Sum256([]byte("material:" + key.id))
	return fmt.Sprintf("%x", h[:32])
}

type generateDataKeyInput struct {
	KeyId             string
	KeySpec           string
	NumberOfBytes     int
	EncryptionContext map[string]string
}

type generateDataKeyOutput struct {
	CiphertextBlob []byte
	Plaintext      []byte
	KeyId          string
	KeyMaterialId  string
}

func (k *KMS) generateDataKey(_ context.Context, in *generateDataKeyInput) (any, error) {
	n := in.NumberOfBytes
	switch {
	case (in.KeySpec == "") == (n == 0):
		return nil, validationError("Please specify either number of bytes or key spec.")
	case in.KeySpec == "AES_256":
		n = 32
	case in.KeySpec == "AES_128":
		n = 16
	case in.KeySpec != "":
		return nil, validationError("Value '%s' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]", in.KeySpec)
	case n < 1 || n > 1024:
		return nil, validationError("Value '%d' at 'numberOfBytes' failed to satisfy constraint: Member must have value between 1 and 1024", n)
	}
	k.mu.Lock()
	key, err := k.usable(in.KeyId)
	k.mu.Unlock()
	if err != nil {
		return nil, err
	}
	pt := make([]byte, n)
	if _, err := rand.Read(pt); err != nil {
		return nil, fmt.Errorf("generate data key: %w", err)
	}
	blob, err := key.seal(pt, in.EncryptionContext)
	if err != nil {
		return nil, fmt.Errorf("seal data key: %w", err)
	}
	return &generateDataKeyOutput{CiphertextBlob: blob, Plaintext: pt, KeyId: key.arn, KeyMaterialId: key.materialID()}, nil
}

type keyMetadata struct {
	AWSAccountId          string
	KeyId                 string
	Arn                   string
	CreationDate          *epochTime
	Enabled               bool
	Description           string
	KeyUsage              string
	KeyState              string
	Origin                string
	KeyManager            string
	KeySpec               string
	CustomerMasterKeySpec string
	EncryptionAlgorithms  []string
	MultiRegion           bool
}

func (k *KMS) metadata(key *kmsKey) map[string]any {
	state := "Enabled"
	if !key.enabled {
		state = "Disabled"
	}
	return map[string]any{"KeyMetadata": keyMetadata{
		AWSAccountId: k.s.account, KeyId: key.id, Arn: key.arn, CreationDate: ts(key.created),
		Enabled: key.enabled, Description: key.description, KeyUsage: "ENCRYPT_DECRYPT", KeyState: state,
		Origin: "AWS_KMS", KeyManager: "CUSTOMER", KeySpec: "SYMMETRIC_DEFAULT", CustomerMasterKeySpec: "SYMMETRIC_DEFAULT",
		EncryptionAlgorithms: []string{"SYMMETRIC_DEFAULT"},
	}}
}

type createKeyInput struct {
	Description string
	KeyUsage    string
	KeySpec     string
}

func (k *KMS) createKeyOp(_ context.Context, in *createKeyInput) (any, error) {
	if (in.KeyUsage != "" && in.KeyUsage != "ENCRYPT_DECRYPT") || (in.KeySpec != "" && in.KeySpec != "SYMMETRIC_DEFAULT") {
		return nil, errorf("UnsupportedOperationException", "this fake only creates symmetric ENCRYPT_DECRYPT keys (asked for %s %s)", in.KeyUsage, in.KeySpec)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	key, err := k.newKey(in.Description)
	if err != nil {
		return nil, err
	}
	return k.metadata(key), nil
}

type createAliasInput struct {
	AliasName   string
	TargetKeyId string
}

func (k *KMS) createAlias(_ context.Context, in *createAliasInput) (any, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if strings.HasPrefix(in.TargetKeyId, "alias/") || strings.Contains(in.TargetKeyId, ":alias/") {
		return nil, validationError("Value '%s' at 'targetKeyId' failed to satisfy constraint: an alias cannot point at another alias", in.TargetKeyId)
	}
	key, err := k.resolve(in.TargetKeyId)
	if err != nil {
		return nil, err
	}
	if err := k.addAlias(in.AliasName, key.id); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

type describeKeyInput struct {
	KeyId string
}

func (k *KMS) describeKey(_ context.Context, in *describeKeyInput) (any, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	key, err := k.resolve(in.KeyId)
	if err != nil {
		return nil, err
	}
	return k.metadata(key), nil
}
