/* The HTTP side of podman-hpc-jobd (libmicrohttpd): pman's routes, status
 * codes and bodies (docs/jobd.md, "The API"), and the workers that hand
 * accepted jobs to the backend. */
#ifndef PHPC_JOBD_API_H
#define PHPC_JOBD_API_H

#include "jobd.h"
#include "jobdb.h"

#include <netinet/in.h>
#include <sys/socket.h>

struct jobd;

struct jobd_listen {
	struct sockaddr_storage addr;
	socklen_t len;
	int threads;     /* HTTP threads */
	size_t max_body; /* bytes */
};

/* Starts the workers (which first take up jobs recorded but never handed
 * to the backend: a restart after kill -9) and the HTTP server. */
int jobd_start(const struct jobd_config *c, struct jobdb *db, const struct jobd_listen *l,
               struct jobd **out, struct phpc_error **err);
/* Stops accepting requests, lets the workers finish the job in hand. */
void jobd_stop(struct jobd *d);

/* One line for the service's log (stderr: journald under systemd). */
void jobd_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
