#include "registry.h"
#include "util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* A DNS name: labels of letters, digits and '-', not starting or ending with '-'. */
static bool valid_hostname(const char *h, size_t n)
{
	if (n == 0 || n > 253)
		return false;
	size_t label = 0;
	for (size_t i = 0; i < n; i++) {
		char c = h[i];
		if (c == '.') {
			if (label == 0 || h[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)c) && c != '-')
			return false;
		if (c == '-' && label == 0)
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && h[n - 1] != '-';
}

static bool valid_port(const char *p)
{
	if (!*p || strlen(p) > 5)
		return false;
	unsigned long v = 0;
	for (const char *c = p; *c; c++) {
		if (*c < '0' || *c > '9')
			return false;
		v = v * 10 + (unsigned long)(*c - '0');
	}
	return v >= 1 && v <= 65535;
}

/* Splits addr into host (without brackets) and port (NULL: none). */
static bool split_addr(const char *addr, char **host, const char **port)
{
	*port = NULL;
	if (addr[0] == '[') {
		const char *end = strchr(addr, ']');
		if (!end || end == addr + 1 || (end[1] && end[1] != ':'))
			return false;
		*host = phpc_xstrndup(addr + 1, (size_t)(end - addr - 1));
		if (end[1] == ':')
			*port = end + 2;
		return true;
	}
	const char *colon = strchr(addr, ':');
	if (colon && strchr(colon + 1, ':'))
		return false;
	*host = colon ? phpc_xstrndup(addr, (size_t)(colon - addr)) : phpc_xstrdup(addr);
	if (colon)
		*port = colon + 1;
	return true;
}

int phpc_registry_addr_check(const char *addr, struct phpc_error **err)
{
	_cleanup_free_ char *host = NULL;
	const char *port = NULL;
	bool ok = addr && *addr && strlen(addr) <= 255 && split_addr(addr, &host, &port);
	if (ok && addr[0] == '[') {
		struct in6_addr a6;
		ok = inet_pton(AF_INET6, host, &a6) == 1;
	} else if (ok) {
		ok = valid_hostname(host, strlen(host));
	}
	if (ok && port)
		ok = valid_port(port);
	if (!ok)
		return phpc_error_set(err, EINVAL,
		                      "\"%s\" is not a registry address: expected HOST[:PORT], "
		                      "such as 127.0.0.1:5000 or registry.example.org",
		                      addr ? addr : "");
	return 0;
}

unsigned phpc_registry_addr_port(const char *addr)
{
	_cleanup_free_ char *host = NULL;
	const char *port = NULL;
	if (!addr || !split_addr(addr, &host, &port) || !port || !valid_port(port))
		return 0;
	return (unsigned)strtoul(port, NULL, 10);
}

bool phpc_registry_addr_is_loopback(const char *addr)
{
	_cleanup_free_ char *host = NULL;
	const char *port = NULL;
	if (!addr || !split_addr(addr, &host, &port))
		return false;
	if (streq(host, "localhost"))
		return true;
	struct in_addr a4;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	struct in6_addr a6;
	return addr[0] == '[' && inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

/* A path component of a repository (OCI distribution spec):
 * [a-z0-9]+ separated by '.', '_', "__" or runs of '-'. */
static bool valid_component(const char *s, size_t n)
{
	if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
		return false;
	for (size_t i = 1; i < n; i++) {
		char c = s[i];
		if (is_lower_alnum(c))
			continue;
		if (c == '-')
			continue; /* runs of '-' are one separator */
		if (c != '.' && c != '_')
			return false;
		/* '.', '_' or "__", between alphanumerics */
		if (!is_lower_alnum(s[i - 1]))
			return false;
		if (c == '_' && s[i + 1] == '_')
			i++;
		if (i + 1 >= n || !is_lower_alnum(s[i + 1]))
			return false;
	}
	return true;
}

static bool valid_repo(const char *s)
{
	if (!*s)
		return false;
	for (const char *p = s;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (!valid_component(p, n))
			return false;
		if (!slash)
			return true;
		p = slash + 1;
	}
}

static bool valid_tag(const char *t)
{
	size_t n = strlen(t);
	if (n == 0 || n > 128 || !(isalnum((unsigned char)t[0]) || t[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)t[i]) && t[i] != '_' && t[i] != '.' && t[i] != '-')
			return false;
	return true;
}

int phpc_upload_refs(const char *registry, const char *user, const char *name,
                     struct phpc_upload_refs *out, struct phpc_error **err)
{
	memset(out, 0, sizeof(*out));
	int r = phpc_registry_addr_check(registry, err);
	if (r < 0)
		return phpc_error_prefix(err, "upload_registry");
	if (!valid_component(user, strlen(user)))
		return phpc_error_set(
		    err, EINVAL,
		    "your user name \"%s\" is not a valid repository name (lowercase "
		    "letters, digits, '.', '_', '-'); ask your site to upload for you",
		    user);
	_cleanup_free_ char *repo = phpc_xstrdup(name);
	const char *tag = "latest";
	char *colon = strrchr(repo, ':');
	if (colon && !strchr(colon, '/')) {
		*colon = '\0';
		tag = colon + 1;
	}
	if (!valid_repo(repo))
		return phpc_error_set(
		    err, EINVAL,
		    "\"%s\" is not an image name: use lowercase letters, digits and "
		    "'.', '_', '-' (and '/' between parts), such as python-pandas",
		    repo);
	if (!valid_tag(tag))
		return phpc_error_set(
		    err, EINVAL,
		    "\"%s\" is not a tag: letters, digits, '_', '.', '-', at most 128, "
		    "not starting with '.' or '-'",
		    tag);
	out->repo = phpc_xasprintf("%s/%s", user, repo);
	out->tag = phpc_xstrdup(tag);
	out->local = phpc_xasprintf("localhost/%s:%s", out->repo, tag);
	out->remote = phpc_xasprintf("%s/%s:%s", registry, out->repo, tag);
	out->remote_nt = streq(tag, "latest") ? phpc_xasprintf("%s/%s", registry, out->repo)
	                                      : phpc_xstrdup(out->remote);
	if (strlen(out->remote) > 255) {
		phpc_upload_refs_clear(out);
		return phpc_error_set(err, ENAMETOOLONG, "image name \"%s\" is too long", name);
	}
	return 0;
}

void phpc_upload_refs_clear(struct phpc_upload_refs *r)
{
	free(r->repo);
	free(r->tag);
	free(r->local);
	free(r->remote);
	free(r->remote_nt);
	memset(r, 0, sizeof(*r));
}

/* A string that goes into YAML, TOML and a systemd unit unchanged: no
 * quoting rules of three formats to get right, and no '%' (a systemd
 * specifier). Paths and URLs of a registry never need these. */
static bool plain_value(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f || strchr("\"'\\%$`#", *s))
			return false;
	return true;
}

int phpc_registry_path_check(const char *what, const char *path, struct phpc_error **err)
{
	if (!path || path[0] != '/' || !plain_value(path))
		return phpc_error_set(
		    err, EINVAL,
		    "%s must be an absolute path without spaces, quotes, '%%', '$' "
		    "or '#' (got \"%s\")",
		    what, path ? path : "");
	return 0;
}

bool phpc_registry_account_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 32 || !((name[0] >= 'a' && name[0] <= 'z') || name[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!is_lower_alnum(name[i]) && name[i] != '_' && name[i] != '-')
			return false;
	return true;
}

static bool valid_unit_name(const char *s)
{
	if (!*s || strlen(s) > 64)
		return false;
	for (; *s; s++)
		if (!is_lower_alnum(*s) && *s != '-' && *s != '_')
			return false;
	return true;
}

int phpc_registry_mirror_prefix(const char *url, char **out, struct phpc_error **err)
{
	const char *h = NULL;
	if (str_has_prefix(url, "https://"))
		h = url + 8;
	else if (str_has_prefix(url, "http://"))
		h = url + 7;
	size_t n = h ? strcspn(h, "/") : 0;
	if (!h || (h[n] && !streq(h + n, "/")) || !plain_value(url))
		return phpc_error_set(err, EINVAL,
		                      "\"%s\" is not a registry URL: expected https://HOST[:PORT], "
		                      "such as https://registry-1.docker.io",
		                      url);
	_cleanup_free_ char *addr = phpc_xstrndup(h, n);
	int r = phpc_registry_addr_check(addr, err);
	if (r < 0)
		return r;
	/* Docker Hub answers on these names; podman calls it docker.io. */
	if (streq(addr, "registry-1.docker.io") || streq(addr, "index.docker.io"))
		*out = phpc_xstrdup("docker.io");
	else
		*out = steal_pointer(&addr);
	return 0;
}

int phpc_registry_site_check(const struct phpc_registry_site *s, struct phpc_error **err)
{
	if (!valid_unit_name(s->name))
		return phpc_error_set(err, EINVAL,
		                      "--name \"%s\": use lowercase letters, digits, '-' and '_'",
		                      s->name);
	int r = phpc_registry_addr_check(s->listen, err);
	if (r < 0)
		return phpc_error_prefix(err, "--listen");
	_cleanup_free_ char *host = NULL;
	const char *port = NULL;
	split_addr(s->listen, &host, &port);
	if (!port)
		return phpc_error_set(
		    err, EINVAL, "--listen %s: which port? (such as 127.0.0.1:5000)", s->listen);
	if (!phpc_registry_addr_is_loopback(s->listen) && !s->insecure)
		return phpc_error_set(
		    err, EINVAL,
		    "--listen %s is not a loopback address: every node could then push and pull "
		    "over plain HTTP without a password. Add --insecure if that is what this "
		    "network is for (a private cluster network), or listen on 127.0.0.1",
		    s->listen);
	r = phpc_registry_path_check("the storage directory", s->storage, err);
	if (r < 0)
		return r;
	if (!s->user || !phpc_registry_account_name_ok(s->user))
		return phpc_error_set(
		    err, EINVAL,
		    "--user \"%s\": an account name is lowercase letters, digits, "
		    "'_' and '-', not starting with '-' or a digit",
		    s->user ? s->user : "");
	if (s->proxy_url) {
		_cleanup_free_ char *prefix = NULL;
		r = phpc_registry_mirror_prefix(s->proxy_url, &prefix, err);
		if (r < 0)
			return phpc_error_prefix(err, "--proxy");
		if (s->mirror_of && phpc_registry_addr_check(s->mirror_of, err) < 0)
			return phpc_error_prefix(err, "--mirror-of");
	}
	return 0;
}

char *phpc_registry_config_yml(const struct phpc_registry_site *s)
{
	char *proxy = s->proxy_url ? phpc_xasprintf("proxy:\n  remoteurl: \"%s\"\n", s->proxy_url)
	                           : phpc_xstrdup("");
	/* info: docker-registry then logs every request (who pulled what), the
	 * record a site wants of a shared service. */
	char *y = phpc_xasprintf("# Written by podman-hpc-registry: the site registry \"%s\".\n"
	                         "version: 0.1\n"
	                         "log:\n"
	                         "  level: info\n"
	                         "storage:\n"
	                         "  filesystem:\n"
	                         "    rootdirectory: \"%s\"\n"
	                         /* no deletes over the API: without passwords anyone
	                          * could remove anyone's images (an admin collects
	                          * garbage with docker-registry garbage-collect) */
	                         "  delete:\n"
	                         "    enabled: false\n"
	                         "http:\n"
	                         "  addr: \"%s\"\n"
	                         "  headers:\n"
	                         "    X-Content-Type-Options: [nosniff]\n"
	                         "%s",
	                         s->name, s->storage, s->listen, proxy);
	free(proxy);
	return y;
}

char *phpc_registry_unit(const struct phpc_registry_site *s, const char *binary, const char *config)
{
	return phpc_xasprintf("# Written by podman-hpc-registry.\n"
	                      "[Unit]\n"
	                      "Description=podman-hpc site registry \"%s\" (%s on %s)\n"
	                      "After=network-online.target\n"
	                      "Wants=network-online.target\n"
	                      "\n"
	                      "[Service]\n"
	                      "User=%s\n"
	                      "ExecStart=%s serve %s\n"
	                      "Restart=on-failure\n"
	                      /* The service account writes its storage and nothing else. */
	                      "NoNewPrivileges=yes\n"
	                      /* a port below 1024, which no user can take while
	                       * the registry is down */
	                      "AmbientCapabilities=CAP_NET_BIND_SERVICE\n"
	                      "CapabilityBoundingSet=CAP_NET_BIND_SERVICE\n"
	                      "ProtectSystem=strict\n"
	                      "ProtectHome=read-only\n"
	                      "ReadWritePaths=%s\n"
	                      "%s"
	                      "PrivateDevices=yes\n"
	                      "\n"
	                      "[Install]\n"
	                      "WantedBy=multi-user.target\n",
	                      s->name, s->proxy_url ? "pull-through cache" : "docker-registry",
	                      s->listen, s->user, binary, config, s->storage,
	                      /* a private /tmp would hide storage kept there */
	                      str_has_prefix(s->storage, "/tmp/") ||
	                              str_has_prefix(s->storage, "/var/tmp/")
	                          ? ""
	                          : "PrivateTmp=yes\n");
}

char *phpc_registry_conf_d(const struct phpc_registry_site *s)
{
	/* Plain HTTP is what this registry speaks: podman must not try TLS. */
	if (s->proxy_url) {
		_cleanup_free_ char *prefix = NULL;
		if (s->mirror_of)
			prefix = phpc_xstrdup(s->mirror_of);
		else if (phpc_registry_mirror_prefix(s->proxy_url, &prefix, NULL) < 0)
			return NULL;
		return phpc_xasprintf(
		    "# Written by podman-hpc-registry: pulls of %s go through the "
		    "site's cache \"%s\" first.\n"
		    "[[registry]]\n"
		    "prefix = \"%s\"\n"
		    "location = \"%s\"\n"
		    "\n"
		    "[[registry.mirror]]\n"
		    "location = \"%s\"\n"
		    "insecure = true\n",
		    prefix, s->name, prefix, prefix, s->listen);
	}
	/* Only the address it listens on: "localhost" may resolve to [::1] first,
	 * a port nobody holds there while it listens on 127.0.0.1. */
	return phpc_xasprintf("# Written by podman-hpc-registry: the site registry \"%s\".\n"
	                      "[[registry]]\n"
	                      "location = \"%s\"\n"
	                      "insecure = true\n",
	                      s->name, s->listen);
}
