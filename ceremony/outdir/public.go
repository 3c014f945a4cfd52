package outdir

// What an artifact holds, as its transcript records it (the content of its
// artifact-written event), for the artifacts that never leave the room.
const (
	// ContentKeyBackup is a wrapped key backup (backup-key).
	ContentKeyBackup = "key backup"
	// ContentActivationRecord is the token's activation record
	// (init-token).
	ContentActivationRecord = "activation record"
)

// StaysInRoom reports whether an artifact whose transcript records content
// never leaves the ceremony room: a key backup or the activation record.
// Every other artifact is public: the export-qr step carries it out, and
// 'ceremony qr export' lets it leave. It is the one rule of both.
func StaysInRoom(content string) bool {
	switch content {
	case ContentKeyBackup, ContentActivationRecord:
		return true
	}
	return false
}
