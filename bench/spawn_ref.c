/* spawn_ref: the physical limit for process tasks on this machine.
 *
 * Runs COMMAND N times with posix_spawnp, keeping K children in flight, and reaps each with
 * waitpid: no scheduler, no output capture, no bookkeeping. jobrunner's tasks/s for the same
 * command is compared against this.
 *
 * Usage: spawn_ref K N COMMAND [ARG...]
 * Exit status: 0 when every child exited 0, 1 otherwise, 2 on a usage or spawn error.
 */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

extern char **environ;

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: spawn_ref K N COMMAND [ARG...]\n");
    return 2;
  }
  long k = strtol(argv[1], NULL, 10);
  long n = strtol(argv[2], NULL, 10);
  if (k < 1 || n < 0) {
    fprintf(stderr, "spawn_ref: K must be >= 1 and N >= 0\n");
    return 2;
  }
  char **command = argv + 3;
  long started = 0, running = 0, failed = 0;
  while (started < n || running > 0) {
    while (running < k && started < n) {
      pid_t pid;
      int err = posix_spawnp(&pid, command[0], NULL, NULL, command, environ);
      if (err != 0) {
        fprintf(stderr, "spawn_ref: cannot start %s: %s\n", command[0], strerror(err));
        return 2;
      }
      ++started;
      ++running;
    }
    int status;
    pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      perror("spawn_ref: waitpid");
      return 2;
    }
    --running;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failed;
  }
  return failed ? 1 : 0;
}
