//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package hsm

import "syscall"

// syncFileSystems asks the kernel to write every file system's dirty data
// to disk, and waits for it (Linux's sync(2) does).
func syncFileSystems() { syscall.Sync() }
