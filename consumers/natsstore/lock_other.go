//go:build !unix

package natsstore

// lockDir does nothing where flock does not exist: the service's images are
// Linux; elsewhere two processes on one DATA_DIR are not detected.
func lockDir(string) (func(), error) { return func() {}, nil }
