/* procstat.h: a process's parent and start time from /proc/PID/stat. */
#ifndef K8S_PROCSTAT_H
#define K8S_PROCSTAT_H
#include <sys/types.h>

/* Start time (field 22, clock ticks since boot) and, when ppid is not
 * NULL, parent (field 4) of process pid (0: this process).  comm may hold
 * anything, ')' included: fields count from the last ')'.  0 or -1. */
int k8s_proc_stat(pid_t pid, unsigned long long *start, pid_t *ppid);
#endif
