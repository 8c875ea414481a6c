package ociimage

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Push uploads the image of the archive at path to ref, with the
// credentials keychain finds for its registry (authn.DefaultKeychain reads
// ~/.docker/config.json and its credential helpers), and returns the
// digest the registry stored.
func Push(ctx context.Context, path string, ref name.Reference, keychain authn.Keychain, opts ...remote.Option) (v1.Hash, error) {
	var digest v1.Hash
	err := WithArchive(path, func(img v1.Image) error {
		opts = append(opts, remote.WithContext(ctx), remote.WithAuthFromKeychain(keychain))
		if err := remote.Write(ref, img, opts...); err != nil {
			return fmt.Errorf("pushing %s: %w", ref, err)
		}
		var err error
		digest, err = img.Digest()
		return err
	})
	return digest, err
}
