/*
 * linebuf: run a command on a pseudo-terminal and copy its output to our stdout as it comes.
 *
 * C programs (xtest among them) fully buffer stdout when it is a file or a pipe, so a long test
 * run would show no progress until it ends. On a terminal, stdio flushes every line.
 *
 * usage: linebuf COMMAND [ARG...]    exit status: the command's
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int master, status;
    pid_t pid;
    char buf[4096];
    struct termios tio;

    if (argc < 2) {
        fprintf(stderr, "usage: linebuf COMMAND [ARG...]\n");
        return 2;
    }
    master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || grantpt(master) || unlockpt(master)) {
        perror("linebuf: pty");
        return 2;
    }
    pid = fork();
    if (pid < 0) {
        perror("linebuf: fork");
        return 2;
    }
    if (pid == 0) {
        int slave;

        setsid();
        slave = open(ptsname(master), O_RDWR);
        if (slave < 0) {
            perror("linebuf: open slave");
            _exit(2);
        }
        /* Raw output: no CR added before each LF. */
        if (!tcgetattr(slave, &tio)) {
            tio.c_oflag &= ~OPOST;
            tcsetattr(slave, TCSANOW, &tio);
        }
        dup2(slave, STDOUT_FILENO);
        dup2(slave, STDERR_FILENO);
        close(slave);
        close(master);
        execvp(argv[1], argv + 1);
        perror("linebuf: exec");
        _exit(127);
    }
    for (;;) {
        ssize_t n = read(master, buf, sizeof(buf));

        if (n > 0) {
            ssize_t off = 0;

            while (off < n) {
                ssize_t w = write(STDOUT_FILENO, buf + off, n - off);

                if (w < 0 && errno == EINTR)
                    continue;
                if (w < 0)
                    break;
                off += w;
            }
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        break; /* EIO: the child closed the terminal */
    }
    if (waitpid(pid, &status, 0) < 0)
        return 2;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
