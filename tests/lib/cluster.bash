# A simulated cluster on one machine, for tests and benchmarks (as root).
#
#   start_cluster N DIR    N compute nodes (2 to 8), state under DIR
#   stop_cluster DIR       tears everything down, leaves nothing behind
#   cluster_nodes DIR      the node names, one per line
#
# The login node is this host: munge, slurmctld, and the users' commands
# (srun, sbatch). Compute node K is "nodeK": a network namespace (phpc-nodeK)
# on a bridge (phpcbr0, 10.77.0.0/24: the login node is .1, nodeK is
# .(10+K)), with its own UTS namespace (hostname nodeK) and mount namespace,
# where its own directories replace /tmp (node-local disk) and
# /var/spool/slurmd (its mounts then shared within the node, a peer group of
# its own, as on a systemd host: rootless podman expects "/" shared), and one
# `slurmd -N nodeK` whose tasks inherit all of it.
# Everything else, /home and DIR/shared among it, is the same file system on
# every node, as a cluster's shared file system is. This kernel has no NFS
# server (no nfsd in /proc/filesystems), so the shared directory is shared
# by being one directory, not served over NFS.
#
# Slurm's commands find the configuration at /etc/slurm/slurm.conf, which
# start_cluster writes (and stop_cluster removes when it wrote it); the
# single-node daemons of slurm.bash must not run at the same time.

# shellcheck source=slurm.bash
. "$(dirname "${BASH_SOURCE[0]}")/slurm.bash" # slurm_conf_common, start_munge

CLUSTER_BRIDGE=phpcbr0
CLUSTER_NET=10.77.0
CLUSTER_HOSTS_MARK="# podman-hpc test cluster"

cluster_nodes() {
	cat "$1/nodes" 2>/dev/null
}

# The cgroup that holds node K's slurmd and everything it starts, whatever
# namespaces those make of their own (a rootless podman's pause process,
# squashfuse, conmon): stop_cluster ends them all through it. cgroup v1's
# pids hierarchy where there is one (an unprivileged user cannot move a
# process out of it), else the cgroup v2 root.
cluster_cgroup() { # k
	if [ -d /sys/fs/cgroup/pids ]; then
		echo "/sys/fs/cgroup/pids/phpc-node$1"
	else
		echo "/sys/fs/cgroup/phpc-node$1"
	fi
}

# Kills every process of node K's cgroup and removes it.
cluster_cgroup_end() { # k
	local cg pids
	cg=$(cluster_cgroup "$1")
	[ -d "$cg" ] || return 0
	for _ in $(seq 50); do
		pids=$(cat "$cg/cgroup.procs" 2>/dev/null)
		[ -n "$pids" ] || break
		# shellcheck disable=SC2086 # one word per pid
		kill -9 $pids 2>/dev/null
		sleep 0.1
	done
	rmdir "$cg" 2>/dev/null || echo "stop_cluster: $cg still has processes: $(cat "$cg/cgroup.procs")" >&2
}

cluster_conf() { # dir nnodes
	local dir=$1 n=$2 host port
	host=$(hostname)
	port=$((6817 + RANDOM % 100))
	slurm_conf_common
	cat <<-C
	ClusterName=phpcsim
	SlurmctldHost=$host($CLUSTER_NET.1)
	StateSaveLocation=$dir/state
	SlurmdSpoolDir=/var/spool/slurmd
	SlurmctldPidFile=$dir/slurmctld.pid
	SlurmdPidFile=/var/spool/slurmd/slurmd.pid
	SlurmctldLogFile=$dir/slurmctld.log
	SlurmdLogFile=/var/spool/slurmd/slurmd.log
	SlurmctldPort=$port
	SlurmdPort=$((port + 100))
	C
	for k in $(seq "$n"); do
		echo "NodeName=node$k NodeHostname=node$k NodeAddr=$CLUSTER_NET.$((10 + k)) CPUs=16 RealMemory=4096 State=UNKNOWN"
	done
	echo "PartitionName=debug Nodes=node[1-$n] Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES"
}

# The names in /etc/hosts, so that every node and the login node resolve
# them (MPI libraries look their peers up by name).
cluster_hosts_add() { # nnodes
	local k
	cluster_hosts_remove
	{
		for k in $(seq "$1"); do
			echo "$CLUSTER_NET.$((10 + k)) node$k $CLUSTER_HOSTS_MARK"
		done
	} >>/etc/hosts
}

cluster_hosts_remove() {
	local tmp
	grep -q "$CLUSTER_HOSTS_MARK" /etc/hosts 2>/dev/null || return 0
	tmp=$(mktemp /etc/.hosts.XXXXXX)
	grep -v "$CLUSTER_HOSTS_MARK" /etc/hosts >"$tmp"
	chmod 0644 "$tmp"
	mv -f "$tmp" /etc/hosts
}

start_cluster() { # nnodes dir
	local n=$1 dir=$2 k ns
	if [ "$n" -lt 1 ] || [ "$n" -gt 8 ]; then
		echo "start_cluster: 1 to 8 nodes, not $n" >&2
		return 1
	fi
	stop_cluster "$dir"
	mkdir -p "$dir/state" "$dir/shared"
	chmod 0755 "$dir"
	chmod 1777 "$dir/shared"
	start_munge
	cluster_conf "$dir" "$n" >"$dir/slurm.conf"
	mkdir -p /etc/slurm
	cp "$dir/slurm.conf" /etc/slurm/slurm.conf
	echo "$dir" >/etc/slurm/.phpc-cluster
	cluster_hosts_add "$n"

	ip link add "$CLUSTER_BRIDGE" type bridge || return 1
	ip addr add "$CLUSTER_NET.1/24" dev "$CLUSTER_BRIDGE"
	ip link set "$CLUSTER_BRIDGE" up
	: >"$dir/nodes"
	for k in $(seq "$n"); do
		ns=phpc-node$k
		mkdir -p "$dir/node$k/tmp" "$dir/node$k/spool"
		chmod 1777 "$dir/node$k/tmp"
		cluster_cgroup_end "$k"
		mkdir "$(cluster_cgroup "$k")" || return 1
		ip netns add "$ns"
		ip link add "vphpc$k" type veth peer name eth0 netns "$ns"
		ip link set "vphpc$k" master "$CLUSTER_BRIDGE" up
		ip -n "$ns" addr add "$CLUSTER_NET.$((10 + k))/24" dev eth0
		ip -n "$ns" link set lo up
		ip -n "$ns" link set eth0 up
		ip -n "$ns" route add default via "$CLUSTER_NET.1"
		# its hostname, /tmp and slurmd's spool are the node's own; the
		# daemon (and every task it starts) lives in these namespaces
		# (nsenter, not ip netns exec, which would remount /sys without
		# the cgroup file system slurmd needs), in the node's cgroup
		# shellcheck disable=SC2016 # $1, $2, $3: the inner shell's arguments
		nsenter --net="/run/netns/$ns" unshare --uts --mount --propagation private sh -c '
			echo $$ >"$3/cgroup.procs" &&
			hostname "$1" &&
			mount --bind "$2/tmp" /tmp &&
			mkdir -p /var/spool/slurmd &&
			mount --bind "$2/spool" /var/spool/slurmd &&
			mount --make-rshared / &&
			exec slurmd -N "$1" -f /etc/slurm/slurm.conf' sh "node$k" "$dir/node$k" \
			"$(cluster_cgroup "$k")" ||
			{
				echo "start_cluster: slurmd of node$k did not start" >&2
				return 1
			}
		echo "node$k" >>"$dir/nodes"
	done
	slurmctld -f /etc/slurm/slurm.conf || return 1
	local up
	for _ in $(seq 200); do
		up=$(sinfo -h -N -o '%N %t' 2>/dev/null | grep -cE ' (idle|mix|alloc)$')
		[ "$up" -eq "$n" ] && return 0
		sleep 0.2
	done
	echo "start_cluster: $up of $n nodes came up:" >&2
	tail -5 "$dir/slurmctld.log" "$dir"/node*/spool/slurmd.log >&2
	return 1
}

stop_cluster() { # dir
	local dir=$1 pidf ns k
	[ -e "$dir/slurmctld.pid" ] && kill "$(cat "$dir/slurmctld.pid")" 2>/dev/null
	for pidf in "$dir"/node*/spool/slurmd.pid; do
		[ -e "$pidf" ] && kill "$(cat "$pidf")" 2>/dev/null
	done
	# the tasks of a step still running, in a node's namespaces
	for ns in $(ip netns list 2>/dev/null | awk '/^phpc-node[0-9]/ {print $1}'); do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
	done
	for _ in $(seq 50); do
		pgrep -x slurmctld >/dev/null || pgrep -x slurmd >/dev/null || break
		sleep 0.1
	done
	for ns in $(ip netns list 2>/dev/null | awk '/^phpc-node[0-9]/ {print $1}'); do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$ns"
	done
	for k in 1 2 3 4 5 6 7 8; do
		cluster_cgroup_end "$k"
		ip link del "vphpc$k" 2>/dev/null
	done
	ip link del "$CLUSTER_BRIDGE" 2>/dev/null
	cluster_hosts_remove
	if [ -e /etc/slurm/.phpc-cluster ]; then
		rm -f /etc/slurm/slurm.conf /etc/slurm/.phpc-cluster
	fi
	# the whole state, node-local disks and the shared directory (what
	# podman left there is owned by subordinate ids): only a directory
	# start_cluster made, recognised by its slurm.conf
	if [ -f "$dir/slurm.conf" ] && grep -q '^ClusterName=phpcsim$' "$dir/slurm.conf"; then
		rm -rf "${dir:?}"
	fi
	return 0
}
