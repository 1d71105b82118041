/* The site's group registry (docs/site-tools.md): what `podman-hpc upload`
 * pushes where, and the files `podman-hpc-registry` writes for a site admin
 * (docker-registry's config.yml, a systemd unit, a registries.conf.d entry).
 * Pure: strings in, strings out; the programs write and run them. */
#ifndef PHPC_REGISTRY_H
#define PHPC_REGISTRY_H

#include "error.h"

#include <stdbool.h>

/* A registry address: HOST[:PORT], HOST a DNS name, an IPv4 address or a
 * bracketed IPv6 address, PORT 1-65535. No scheme, path or user. */
int phpc_registry_addr_check(const char *addr, struct phpc_error **err);
/* addr's port, 0 when it names none. addr passed phpc_registry_addr_check. */
unsigned phpc_registry_addr_port(const char *addr);
/* Whether addr's host is a loopback address (127.0.0.0/8, [::1], localhost):
 * plain HTTP there never leaves the node. */
bool phpc_registry_addr_is_loopback(const char *addr);

/* What `podman-hpc upload NAME` names: the user's repository in the site
 * registry. NAME is REPO[:TAG], REPO one or more lowercase path components
 * (OCI distribution's grammar); the tag defaults to "latest". */
struct phpc_upload_refs {
	char *repo;      /* USER/REPO */
	char *tag;       /* TAG */
	char *local;     /* localhost/USER/REPO:TAG, what podman commit creates */
	char *remote;    /* REGISTRY/USER/REPO:TAG */
	char *remote_nt; /* REGISTRY/USER/REPO, for the instructions (no ":latest") */
};
int phpc_upload_refs(const char *registry, const char *user, const char *name,
                     struct phpc_upload_refs *out, struct phpc_error **err);
void phpc_upload_refs_clear(struct phpc_upload_refs *r);

/* A registry set up by podman-hpc-registry. */
struct phpc_registry_site {
	const char *name;      /* the instance: file and unit names */
	const char *listen;    /* HOST:PORT it listens on */
	const char *storage;   /* absolute directory of its blobs */
	const char *proxy_url; /* NULL, or the upstream of a pull-through cache */
	const char *mirror_of; /* with proxy_url: the registry it mirrors (docker.io) */
	const char *user;      /* the service account */
	bool insecure;         /* plain HTTP accepted off loopback */
};

/* An absolute path that may go into the unit and the configuration as it
 * is (see phpc_registry_site_check); what names the option in the error. */
int phpc_registry_path_check(const char *what, const char *path, struct phpc_error **err);
/* A service account name useradd takes and no option: [a-z_][a-z0-9_-]*, at
 * most 32. */
bool phpc_registry_account_name_ok(const char *name);

/* Checks the fields (absolute storage, address, URL, names) before any file
 * is written: one error naming the wrong one. */
int phpc_registry_site_check(const struct phpc_registry_site *s, struct phpc_error **err);
/* The registry a pull-through cache of url stands in for, as podman names
 * it: https://registry-1.docker.io -> docker.io, http://h:5000 -> h:5000. */
int phpc_registry_mirror_prefix(const char *url, char **out, struct phpc_error **err);
/* docker-registry's configuration. */
char *phpc_registry_config_yml(const struct phpc_registry_site *s);
/* A systemd system unit running `binary serve config` as s->user. */
char *phpc_registry_unit(const struct phpc_registry_site *s, const char *binary,
                         const char *config);
/* The registries.conf.d entry: the registry without TLS (loopback or
 * insecure), or, for a cache, a mirror of s->mirror_of. */
char *phpc_registry_conf_d(const struct phpc_registry_site *s);

#endif
