#include "ymap.h"
#include "fsutil.h"
#include "strv.h"
#include "util.h"

#include <errno.h>
#include <yaml.h>

static bool scalar_is_null(const yaml_node_t *n)
{
	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	const char *v = (const char *)n->data.scalar.value;
	return !*v || streq(v, "~") || streq(v, "null") || streq(v, "Null") || streq(v, "NULL");
}

static int fill_entry(yaml_document_t *doc, yaml_node_t *val, struct phpc_yentry *e,
                      struct phpc_error **err)
{
	switch (val->type) {
	case YAML_SCALAR_NODE:
		e->kind = PHPC_Y_SCALAR;
		e->scalar =
		    phpc_xstrndup((const char *)val->data.scalar.value, val->data.scalar.length);
		e->is_null = scalar_is_null(val);
		return 0;
	case YAML_SEQUENCE_NODE: {
		struct phpc_strv s = {0};
		e->kind = PHPC_Y_SEQ;
		for (yaml_node_item_t *it = val->data.sequence.items.start;
		     it < val->data.sequence.items.top; it++) {
			yaml_node_t *item = yaml_document_get_node(doc, *it);
			if (!item || item->type != YAML_SCALAR_NODE) {
				phpc_strv_clear(&s);
				return phpc_error_set(
				    err, EINVAL,
				    "line %lu: key \"%s\": list items must be "
				    "plain values, not lists or mappings",
				    (unsigned long)(item ? item->start_mark.line + 1 : e->line),
				    e->key);
			}
			phpc_strv_push(&s, phpc_xstrndup((const char *)item->data.scalar.value,
			                                 item->data.scalar.length));
		}
		e->seq = phpc_strv_steal(&s);
		return 0;
	}
	default:
		e->kind = PHPC_Y_MAP;
		return 0;
	}
}

static int walk_map(yaml_document_t *doc, struct phpc_ymap *out, struct phpc_error **err)
{
	yaml_node_t *root = yaml_document_get_root_node(doc);
	if (!root)
		return 0;
	if (root->type == YAML_SCALAR_NODE && scalar_is_null(root))
		return 0;
	if (root->type != YAML_MAPPING_NODE)
		return phpc_error_set(err, EINVAL, "line %lu: expected a mapping of key: value",
		                      (unsigned long)root->start_mark.line + 1);
	size_t cap = (size_t)(root->data.mapping.pairs.top - root->data.mapping.pairs.start);
	out->e = phpc_xcalloc(cap, sizeof(*out->e));
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);
		yaml_node_t *v = yaml_document_get_node(doc, p->value);
		if (!k || !v || k->type != YAML_SCALAR_NODE)
			return phpc_error_set(err, EINVAL, "line %lu: keys must be plain names",
			                      (unsigned long)(k ? k->start_mark.line + 1 : 0));
		const char *key = (const char *)k->data.scalar.value;
		const struct phpc_yentry *dup = phpc_ymap_get(out, key);
		if (dup)
			return phpc_error_set(
			    err, EINVAL, "line %lu: duplicate key \"%s\" (first on line %u)",
			    (unsigned long)k->start_mark.line + 1, key, dup->line);
		struct phpc_yentry *e = &out->e[out->n++];
		e->key = phpc_xstrdup(key);
		e->line = (unsigned)k->start_mark.line + 1;
		int r = fill_entry(doc, v, e, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int phpc_yaml_parse_map(const char *buf, size_t len, struct phpc_ymap *out, struct phpc_error **err)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	int r;

	*out = (struct phpc_ymap){0};
	if (!yaml_parser_initialize(&parser))
		return phpc_error_set(err, ENOMEM, "cannot initialise the YAML parser");
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		r = phpc_error_set(err, EINVAL, "line %lu, column %lu: YAML syntax error: %s",
		                   (unsigned long)parser.problem_mark.line + 1,
		                   (unsigned long)parser.problem_mark.column + 1,
		                   parser.problem ? parser.problem : "malformed document");
		yaml_parser_delete(&parser);
		return r;
	}
	r = walk_map(&doc, out, err);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (r < 0)
		phpc_ymap_clear(out);
	return r;
}

int phpc_yaml_load_map(const char *path, struct phpc_ymap *out, struct phpc_error **err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r = phpc_read_file(AT_FDCWD, path, &buf, &len, err);
	if (r < 0)
		return r;
	r = phpc_yaml_parse_map(buf, len, out, err);
	if (r < 0)
		return phpc_error_prefix(err, "%s", path);
	return 0;
}

const struct phpc_yentry *phpc_ymap_get(const struct phpc_ymap *m, const char *key)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->e[i].key && streq(m->e[i].key, key))
			return &m->e[i];
	return NULL;
}

void phpc_ymap_clear(struct phpc_ymap *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->e[i].key);
		free(m->e[i].scalar);
		phpc_strv_free(m->e[i].seq);
	}
	free(m->e);
	*m = (struct phpc_ymap){0};
}
