/* Small helpers for reading json-c objects. */
#ifndef PHPC_JSONUTIL_H
#define PHPC_JSONUTIL_H

#include <json.h>

/* The string value of o's member key; NULL when o is NULL, not an object,
 * has no such member, or the member is not a string. The result is owned
 * by o. */
const char *phpc_json_str(struct json_object *o, const char *key);

#endif
