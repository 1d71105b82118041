# Real Slurm daemons (munge, slurmctld, slurmd) on this machine, for tests.
# start_slurm DIR: starts them with their state in DIR (as root); srun works
# after it for root and for ordinary users. stop_slurm DIR tears them down.

# The settings the test clusters share (this file's and cluster.bash's).
slurm_conf_common() {
	cat <<-C
	SlurmUser=root
	SlurmdUser=root
	AuthType=auth/munge
	ProctrackType=proctrack/linuxproc
	TaskPlugin=task/none
	SelectType=select/cons_tres
	SelectTypeParameters=CR_Core
	SlurmdParameters=config_overrides
	MpiDefault=none
	ReturnToService=2
	KillWait=5
	InactiveLimit=0
	MinJobAge=2
	C
}

# munged, started once per machine, with a key made on first use.
start_munge() {
	mkdir -p /run/munge /var/log/munge
	if ! pgrep -x munged >/dev/null; then
		[ -e /etc/munge/munge.key ] || mungekey --create >/dev/null 2>&1 ||
			/usr/sbin/create-munge-key -f >/dev/null
		chown munge:munge /run/munge /etc/munge/munge.key /var/log/munge 2>/dev/null || true
		chmod 0700 /etc/munge 2>/dev/null || true
		runuser -u munge -- /usr/sbin/munged --force
	fi
}

slurm_conf() {
	local dir=$1 host
	host=$(hostname)
	slurm_conf_common
	cat <<-C
	ClusterName=phpc
	SlurmctldHost=$host
	StateSaveLocation=$dir/state
	SlurmdSpoolDir=$dir/spool
	SlurmctldPidFile=$dir/slurmctld.pid
	SlurmdPidFile=$dir/slurmd.pid
	SlurmctldLogFile=$dir/slurmctld.log
	SlurmdLogFile=$dir/slurmd.log
	SlurmctldPort=$((6817 + RANDOM % 100))
	SlurmdPort=$((6917 + RANDOM % 100))
	NodeName=$host CPUs=64 RealMemory=4096 State=UNKNOWN
	PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
	C
}

start_slurm() {
	local dir=$1
	mkdir -p "$dir/state" "$dir/spool"
	chmod 755 "$dir"
	start_munge
	slurm_conf "$dir" >"$dir/slurm.conf"
	# every Slurm command finds this configuration
	mkdir -p /etc/slurm
	cp "$dir/slurm.conf" /etc/slurm/slurm.conf
	slurmctld -f /etc/slurm/slurm.conf
	slurmd -f /etc/slurm/slurm.conf
	for _ in $(seq 150); do
		if sinfo -h -o %t 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then
			return 0
		fi
		sleep 0.2
	done
	echo "slurm did not come up:" >&2
	tail -5 "$dir/slurmctld.log" "$dir/slurmd.log" >&2
	return 1
}

stop_slurm() {
	local dir=$1
	[ -e "$dir/slurmd.pid" ] && kill "$(cat "$dir/slurmd.pid")" 2>/dev/null
	[ -e "$dir/slurmctld.pid" ] && kill "$(cat "$dir/slurmctld.pid")" 2>/dev/null
	sleep 0.5
	pkill -x slurmd 2>/dev/null
	pkill -x slurmctld 2>/dev/null
	return 0
}
