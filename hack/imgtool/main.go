package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/cacheops/purge-operator/hack/imgtool/ociimage"
)

const usage = `usage:
  imgtool build -o ARCHIVE -tag REF [-tag REF...] -entrypoint PATH [-entrypoint ARG...]
                [-user UID:GID] [-base none|nonroot] [-ca FILE] [-label K=V...] DEST=SRC...
  imgtool push ARCHIVE REF
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "imgtool:", err)
		os.Exit(1)
	}
}

// errUsage means the command line was wrong; the usage was printed.
var errUsage = errors.New("bad usage")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	switch args[0] {
	case "build":
		return runBuild(args[1:], stdout, stderr)
	case "push":
		if len(args) != 3 {
			fmt.Fprint(stderr, usage)
			return errUsage
		}
		ref, err := name.ParseReference(args[2])
		if err != nil {
			return fmt.Errorf("image reference %q: %w", args[2], err)
		}
		digest, err := ociimage.Push(ctx, args[1], ref, authn.DefaultKeychain)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s@%s\n", ref.Context().Name(), digest)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: unknown command %q", errUsage, args[0])
	}
}

// repeated is a flag that may be given several times.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(s string) error { *r = append(*r, s); return nil }

func runBuild(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var tags, entrypoint, labels repeated
	out := fs.String("o", "", "archive to write")
	fs.Var(&tags, "tag", "image reference to name the image by (repeatable)")
	fs.Var(&entrypoint, "entrypoint", "entrypoint element (repeatable, in order)")
	user := fs.String("user", "", "user the image runs as, e.g. 65532:65532")
	base := fs.String("base", string(ociimage.BaseNone), "what the image holds besides its files: none or nonroot")
	ca := fs.String("ca", "", "CA bundle for -base nonroot (default "+ociimage.DefaultCABundle+")")
	arch := fs.String("arch", runtime.GOARCH, "architecture the files are built for")
	fs.Var(&labels, "label", "config label KEY=VALUE (repeatable)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *out == "" || len(tags) == 0 || fs.NArg() == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: build needs -o, -tag and at least one DEST=SRC", errUsage)
	}
	spec := ociimage.Spec{Files: map[string]string{}, Base: ociimage.Base(*base), CABundle: *ca, Entrypoint: entrypoint, User: *user}
	for _, arg := range fs.Args() {
		dst, src, ok := strings.Cut(arg, "=")
		if !ok || dst == "" || src == "" {
			return fmt.Errorf("%w: file %q is not DEST=SRC", errUsage, arg)
		}
		spec.Files[dst] = src
	}
	for _, l := range labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return fmt.Errorf("%w: label %q is not KEY=VALUE", errUsage, l)
		}
		if spec.Labels == nil {
			spec.Labels = map[string]string{}
		}
		spec.Labels[k] = v
	}
	refs := make([]name.Tag, len(tags))
	for i, t := range tags {
		ref, err := name.NewTag(t)
		if err != nil {
			return fmt.Errorf("image tag %q: %w", t, err)
		}
		refs[i] = ref
	}
	img, err := ociimage.Build(spec, *arch)
	if err != nil {
		return err
	}
	if err := ociimage.WriteArchive(*out, img, refs); err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return fmt.Errorf("reading digest: %w", err)
	}
	fmt.Fprintf(stdout, "%s %s@%s\n", *out, refs[0].Name(), digest)
	return nil
}
