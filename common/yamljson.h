/* yamljson.h: load YAML (or JSON) documents into jansson trees, so every
 * config-like file goes through one strict path.  Duplicate keys, aliases,
 * anchors, multiple documents, non-scalar keys, tags other than the YAML
 * 1.2 standard ones (!!str !!int !!float !!bool !!null !!map !!seq and the
 * non-specific "!"), NUL characters in scalars and nesting deeper than
 * K8S_YAML_MAX_DEPTH are refused.  Plain scalars follow YAML 1.2 core
 * schema: true/True/TRUE/false/..., null/Null/NULL/~/empty, integers
 * (decimal, 0o octal, 0x hex) and finite floats become JSON types;
 * everything quoted stays a string, and so do YAML 1.1 spellings such as
 * yes/no/on/off.  Text starting with '{' or '[' is tried as strict JSON
 * first (jansson, duplicate keys refused) and falls back to YAML.
 * An empty document (no node at all) yields json null.
 *
 * Errors are K8S_ECONFIG with detail "<name>:<line>:<column>: <problem>".
 * Scalar buffers that may hold secrets (kubeconfig tokens) are wiped in the
 * parser; jansson's own copies are the caller's to wipe. */
#ifndef K8S_YAMLJSON_H
#define K8S_YAMLJSON_H

#include <stddef.h>
#include <sys/stat.h>
#include <jansson.h>
#include "err.h"

#define K8S_YAML_MAX_DEPTH 64
#define K8S_YAML_MAX_BYTES (4u << 20) /* hard ceiling for k8s_yaml_parse */

json_t *k8s_yaml_parse(const char *text, size_t len, const char *name, struct k8s_err *err);
json_t *k8s_yaml_load_file(const char *path, size_t max_bytes, struct k8s_err *err);
/* Same, and *st (if non-NULL) receives fstat() of the file actually read,
 * so callers can apply an owner/mode policy without a stat/open race.
 * Only regular files are read. */
json_t *k8s_yaml_load_file_stat(const char *path, size_t max_bytes, struct stat *st,
				struct k8s_err *err);

#endif
