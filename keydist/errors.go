package keydist

import "errors"

// Sentinel errors. Functions wrap them with details; test with errors.Is.
var (
	// ErrMalformed: a record, token or state file does not decode.
	ErrMalformed = errors.New("keydist: malformed data")
	// ErrBadSignature: the admin signature does not verify; the data was
	// altered, truncated, or signed by another admin key.
	ErrBadSignature = errors.New("keydist: admin signature does not verify")
	// ErrWrongCluster: a record belongs to another cluster.
	ErrWrongCluster = errors.New("keydist: record is for another cluster")
	// ErrReplayed: a record's sequence number is not newer than one already
	// accepted.
	ErrReplayed = errors.New("keydist: record is not newer than one already accepted")
	// ErrNotRecipient: a key record is not sealed to this node.
	ErrNotRecipient = errors.New("keydist: key record is not sealed to this node")
	// ErrExpired: a join token is past its expiry.
	ErrExpired = errors.New("keydist: join token expired")
	// ErrEvicted: the node in question has been evicted from the cluster.
	ErrEvicted = errors.New("keydist: node is evicted")
	// ErrKeyFilePermissions: a key or state file is readable or writable by
	// other users.
	ErrKeyFilePermissions = errors.New("keydist: key file is accessible to other users")
	// ErrPostponed: a rotation's Rotate function declined to run now (for
	// example an admin node that has not rejoined its cluster yet); the
	// rotator retries after its retry delay and logs it as routine.
	ErrPostponed = errors.New("keydist: rotation postponed")
	// ErrKeyFileCorrupt: a key or state file exists but does not hold a valid
	// key.
	ErrKeyFileCorrupt = errors.New("keydist: key file is corrupt")
)
