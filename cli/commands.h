/* commands.h: k8s-auth subcommands, one file each under cli/. */
#ifndef K8S_CLI_COMMANDS_H
#define K8S_CLI_COMMANDS_H

/* Each returns the exit code of SPEC.md (0/1/2/3).  argv[0] is the
 * subcommand name; `config_path` is --config / K8S_AUTH_CONFIG / default. */
int cmd_check(int argc, char **argv, const char *config_path);
int cmd_users(int argc, char **argv, const char *config_path);
int cmd_groups(int argc, char **argv, const char *config_path);
int cmd_forget(int argc, char **argv, const char *config_path);
int cmd_sync(int argc, char **argv, const char *config_path);

#endif
