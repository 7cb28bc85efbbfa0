package main

import "github.com/runnerfleet/fleet/statemachine"

// Definitions are the two ASL documents the stack deploys, with their ${...} keys.
type Definitions struct {
	RunnerFleet []byte
	ImageBuild  []byte
	// Keys lists the substitution keys a definition uses.
	Keys func(def []byte) []string
}

// EmbeddedDefinitions are the definitions the statemachine package embeds: the same
// files fleet-local executes.
func EmbeddedDefinitions() Definitions {
	return Definitions{
		RunnerFleet: statemachine.RunnerFleet(),
		ImageBuild:  statemachine.ImageBuild(),
		Keys:        statemachine.Keys,
	}
}
