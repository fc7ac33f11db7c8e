#!/usr/bin/env bash
# Builds the Parseable stand-in image, tagged as the real one (quay.io/parseablehq/parseable:v2.9.5),
# and like it without shell or curl: FROM scratch, Node's binary with the libraries it links, and
# the stand-in (test/helpers/parseable.ts) compiled by the project's TypeScript. Needs the stand-in
# node image from ../shared/stack-images/build.sh. Rebuilt when the stand-in's sources change (their
# hash is a label of the image), or with FORCE=1.
set -euo pipefail
cd "$(dirname "$0")/../.."
tag=quay.io/parseablehq/parseable:v2.9.5
hash=$(cat test/helpers/parseable.ts test/helpers/parseable-api.ts test/stack/parseable-main.ts test/stack/parseable-image.sh | sha256sum | cut -c1-16)
if [ "${FORCE:-0}" != 1 ] && podman image exists "$tag" \
   && [ "$(podman image inspect --format '{{ index .Labels "vmp.standin.sources" }}' "$tag")" = "$hash" ]; then
  echo "$tag is up to date"; exit 0
fi
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
npx tsc --outDir "$ctx/app" --rootDir test --module nodenext --moduleResolution nodenext --target es2022 --strict --skipLibCheck --types node test/stack/parseable-main.ts
echo '{"type":"module"}' > "$ctx/app/package.json"
printf '#!/usr/local/bin/node\nimport("/usr/lib/parseable/stack/parseable-main.js");\n' > "$ctx/parseable"
cat > "$ctx/Containerfile" <<'EOC'
FROM docker.io/library/node:26-slim AS node
# Node and exactly the shared libraries it links, at their own paths.
RUN mkdir /out && cp --parents /usr/local/bin/node /out/ \
 && ldd /usr/local/bin/node | grep -o '/[^ ]*' | xargs -I{} cp --parents -L {} /out/ \
 && cp --parents /etc/ssl/certs/ca-certificates.crt /out/
FROM scratch
COPY --from=node /out/ /
COPY app /usr/lib/parseable
COPY --chmod=755 parseable /usr/bin/parseable
ENV PATH=/usr/local/bin:/usr/bin
LABEL vmp.standin.sources=HASH
EXPOSE 8000
CMD ["/usr/bin/parseable"]
EOC
sed -i "s/HASH/$hash/" "$ctx/Containerfile"
podman build -q -t "$tag" "$ctx" >/dev/null
echo "$tag built"
