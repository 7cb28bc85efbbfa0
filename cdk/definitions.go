package main

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
)

// EmbeddedDefinitions: TEMPORARY until the statemachine package lands; reads the files.
func EmbeddedDefinitions() Definitions {
	root, _, err := LoadCDKJSON(".")
	if err != nil {
		panic(err)
	}
	read := func(n string) []byte {
		b, err := os.ReadFile(filepath.Join(root, "statemachine", n))
		if err != nil {
			panic(err)
		}
		return b
	}
	return Definitions{RunnerFleet: read("runnerfleet.asl.json"), ImageBuild: read("imagebuild.asl.json"), Keys: tmpKeys}
}

var tmpKeyRE = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`)

func tmpKeys(def []byte) []string {
	seen := map[string]bool{}
	for _, m := range tmpKeyRE.FindAllSubmatch(def, -1) {
		seen[string(m[1])] = true
	}
	var out []string
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
