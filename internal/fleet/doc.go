// Package fleet holds Runner Fleet's domain vocabulary: the job an execution serves, its
// execution name, the label rules that decide whether a job is ours, the class table, the
// state document the workflow passes between activities, and the named errors the state
// machine's Retry and Catch match. It does no I/O; adapters for AWS and GitHub live in
// their own packages and translate into these types.
package fleet
