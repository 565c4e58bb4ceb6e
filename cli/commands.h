/* commands.h: k8s-auth subcommands, one file each under cli/. */
#ifndef K8S_CLI_COMMANDS_H
#define K8S_CLI_COMMANDS_H

/* Each returns the exit code of SPEC.md (0/1/2/3).  argv[0] is the
 * subcommand name; `config_path` is --config or K8S_AUTH_CONFIG, NULL when
 * neither names a file (then K8S_DEFAULT_CONFIG: k8s_config_load(NULL)).
 * A file named explicitly that cannot be read is an error (exit 2), never
 * the defaults.  k8s-auth.c answers COMMAND --help before calling these. */
int cmd_check(int argc, char **argv, const char *config_path);
int cmd_users(int argc, char **argv, const char *config_path);
int cmd_groups(int argc, char **argv, const char *config_path);
int cmd_forget(int argc, char **argv, const char *config_path);
int cmd_sync(int argc, char **argv, const char *config_path);
int cmd_status(int argc, char **argv, const char *config_path);  /* k8s-auth-status.c */
int cmd_cache(int argc, char **argv, const char *config_path);   /* k8s-auth-cache.c */

#endif
