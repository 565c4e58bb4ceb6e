/* yamljson.h: load YAML (or JSON) documents into jansson trees, so every
 * config-like file goes through one strict path.  Duplicate keys, aliases,
 * anchors, multiple documents and non-scalar keys are refused.  Plain
 * scalars follow YAML 1.2 core schema: true/false, null/~, integers and
 * floats become JSON types; everything quoted stays a string. */
#ifndef K8S_YAMLJSON_H
#define K8S_YAMLJSON_H

#include <stddef.h>
#include <jansson.h>
#include "err.h"

json_t *k8s_yaml_parse(const char *text, size_t len, const char *name, struct k8s_err *err);
json_t *k8s_yaml_load_file(const char *path, size_t max_bytes, struct k8s_err *err);

#endif
