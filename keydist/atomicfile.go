package keydist

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// privateFileMode is the mode of every file keydist writes.
const privateFileMode = 0o600

// writeFileAtomic writes data to dir/name, mode 0600, so that a reader (or a
// crash) sees the old content or the new, never a mix: temp file, fsync,
// then rename (replace) or hard link (create only, failing with fs.ErrExist
// if the file appeared meanwhile), then fsync of the directory.
func writeFileAtomic(dir, name string, data []byte, replace bool) (err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create state directory %s: %w", dir, err)
	}
	final := filepath.Join(dir, name)
	tmp, err := os.CreateTemp(dir, "."+name+".tmp-*") // created 0600
	if err != nil {
		return fmt.Errorf("write %s: %w", final, err)
	}
	tmpName := tmp.Name()
	defer func() {
		// After a successful rename the temp name is gone already.
		if rmErr := os.Remove(tmpName); rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) && err == nil {
			err = fmt.Errorf("remove temporary file %s: %w", tmpName, rmErr)
		}
	}()
	if err := tmp.Chmod(privateFileMode); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", final, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", final, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: flush to disk: %w", final, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", final, err)
	}
	if replace {
		err = os.Rename(tmpName, final)
	} else {
		err = os.Link(tmpName, final)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", final, err)
	}
	return syncDir(dir)
}

// syncDir makes a rename or link in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync state directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync state directory %s: %w", dir, err)
	}
	return nil
}

// readPrivateFile reads dir/name. exists is false (with no error) if there
// is no such file. It refuses a file that is not regular, that other users
// can access (ErrKeyFilePermissions) or that is longer than maxLen
// (ErrKeyFileCorrupt).
func readPrivateFile(dir, name string, maxLen int64) (data []byte, exists bool, err error) {
	path := filepath.Join(dir, name)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, true, fmt.Errorf("read %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, true, fmt.Errorf("%s is not a regular file (%s); replace it with the key file or remove it: %w",
			path, st.Mode().Type(), ErrKeyFileCorrupt)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, true, fmt.Errorf("%s has mode %04o, so other users can read or change it; run `chmod 600 %s`, "+
			"and if someone may have copied it, treat the keys in it as exposed and replace them: %w",
			path, perm, path, ErrKeyFilePermissions)
	}
	data, err = io.ReadAll(io.LimitReader(f, maxLen+1))
	if err != nil {
		return nil, true, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > maxLen {
		return nil, true, fmt.Errorf("%s is larger than %d bytes, so it is not a meshnet file; restore it from a backup: %w",
			path, maxLen, ErrKeyFileCorrupt)
	}
	return data, true, nil
}
