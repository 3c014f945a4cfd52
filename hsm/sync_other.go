//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package hsm

// syncFileSystems does nothing where there is no sync(2).
func syncFileSystems() {}
