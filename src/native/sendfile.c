// Zero-copy sending of a file range to a TCP socket with sendfile(2).
//
// Node has no sendfile: every byte of a pull is read into a buffer and written
// out again. This addon hands a range of an open file to the kernel instead.
// Each transfer runs on its own thread, which waits for the non-blocking socket
// to drain with poll(2), so neither the event loop nor libuv's thread pool (the
// registry's file I/O) is held by a slow client. The thread sends on its own
// dup() of the socket: when Node closes its descriptor the socket stays valid
// until the thread is done, and the number can never be reused under it.
//
//   start(socketFd, fileFd, offset, length, stallMs, done) -> job
//     done(errno, sent) is called on the JS thread; errno 0 when every byte went.
//   cancel(job)  stops a running transfer (shuts the socket down); a no-op after.
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

// Per call: large enough that syscalls are few, small enough that a cancel is
// noticed between calls on a fast socket.
#define SLICE (16 * 1024 * 1024)
#define POLL_MS 500

typedef struct {
  int sock;    // our dup of the socket, -1 once closed
  int file;    // owned by JS, kept open until done() has been called
  off_t offset;
  int64_t length;
  int64_t sent;
  int64_t stall_ms;
  int err;
  atomic_int cancelled;
  int finished;  // under lock
  int refs;      // the thread's completion call and the JS handle; JS thread only
  pthread_mutex_t lock;
  napi_threadsafe_function tsfn;
} job_t;

static void unref(job_t *job) {
  if (--job->refs > 0) return;
  pthread_mutex_destroy(&job->lock);
  free(job);
}

static void *run(void *arg) {
  job_t *job = arg;
  int64_t idle_ms = 0;
  while (job->sent < job->length) {
    if (atomic_load(&job->cancelled)) {
      job->err = ECANCELED;
      break;
    }
    int64_t left = job->length - job->sent;
    ssize_t n = sendfile(job->sock, job->file, &job->offset, left < SLICE ? (size_t)left : SLICE);
    if (n > 0) {
      job->sent += n;
      idle_ms = 0;
      continue;
    }
    if (n == 0) {  // the file ends before the range does
      job->err = ENODATA;
      break;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) {
      job->err = errno;
      break;
    }
    struct pollfd p = {.fd = job->sock, .events = POLLOUT};
    int r = poll(&p, 1, POLL_MS);
    if (r == 0 && (idle_ms += POLL_MS) >= job->stall_ms) {
      job->err = ETIMEDOUT;
      break;
    }
    if (r < 0 && errno != EINTR) {
      job->err = errno;
      break;
    }
  }
  if (atomic_load(&job->cancelled) && job->err != 0) job->err = ECANCELED;
  pthread_mutex_lock(&job->lock);
  job->finished = 1;
  close(job->sock);
  job->sock = -1;
  pthread_mutex_unlock(&job->lock);
  napi_call_threadsafe_function(job->tsfn, job, napi_tsfn_blocking);
  napi_release_threadsafe_function(job->tsfn, napi_tsfn_release);
  return NULL;
}

// Runs on the JS thread once the transfer thread is done.
static void call_done(napi_env env, napi_value done, void *context, void *data) {
  (void)context;
  job_t *job = data;
  if (env != NULL) {
    napi_value argv[2], undefined;
    napi_create_int32(env, job->err, &argv[0]);
    napi_create_int64(env, job->sent, &argv[1]);
    napi_get_undefined(env, &undefined);
    napi_call_function(env, undefined, done, 2, argv, NULL);
  }
  unref(job);
}

static void drop_handle(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  unref(data);
}

static napi_value fail(napi_env env, const char *message) {
  napi_throw_error(env, NULL, message);
  return NULL;
}

static napi_value start(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 6) return fail(env, "start(socketFd, fileFd, offset, length, stallMs, done)");
  int32_t sock_fd, file_fd;
  int64_t offset, length, stall_ms;
  if (napi_get_value_int32(env, argv[0], &sock_fd) != napi_ok || napi_get_value_int32(env, argv[1], &file_fd) != napi_ok ||
      napi_get_value_int64(env, argv[2], &offset) != napi_ok || napi_get_value_int64(env, argv[3], &length) != napi_ok ||
      napi_get_value_int64(env, argv[4], &stall_ms) != napi_ok)
    return fail(env, "start: descriptors, offset, length and stallMs must be numbers");
  if (sock_fd < 0 || file_fd < 0 || offset < 0 || length < 0 || stall_ms <= 0) return fail(env, "start: negative argument");

  job_t *job = calloc(1, sizeof *job);
  if (job == NULL) return fail(env, "start: out of memory");
  job->file = file_fd;
  job->offset = (off_t)offset;
  job->length = length;
  job->stall_ms = stall_ms;
  job->refs = 2;
  pthread_mutex_init(&job->lock, NULL);
  job->sock = fcntl(sock_fd, F_DUPFD_CLOEXEC, 0);
  if (job->sock < 0) {
    free(job);
    return fail(env, "start: cannot duplicate the socket");
  }
  // The file is read once, front to back: ask for a larger read-ahead.
  posix_fadvise(file_fd, (off_t)offset, (off_t)length, POSIX_FADV_SEQUENTIAL);

  napi_value name, handle;
  napi_create_string_utf8(env, "bollard.sendfile", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[5], NULL, name, 0, 1, NULL, NULL, NULL, call_done, &job->tsfn) != napi_ok) {
    close(job->sock);
    free(job);
    return fail(env, "start: done must be a function");
  }
  if (napi_create_external(env, job, drop_handle, NULL, &handle) != napi_ok) {
    napi_release_threadsafe_function(job->tsfn, napi_tsfn_abort);
    close(job->sock);
    free(job);
    return fail(env, "start: cannot create the job handle");
  }

  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  // Signals stay with Node's threads.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  pthread_t thread;
  int rc = pthread_create(&thread, &attr, run, job);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    // The handle keeps one reference; the thread's is dropped here.
    job->finished = 1;
    close(job->sock);
    job->sock = -1;
    job->refs = 1;
    napi_release_threadsafe_function(job->tsfn, napi_tsfn_abort);
    return fail(env, "start: cannot start a thread");
  }
  return handle;
}

static napi_value cancel(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  void *data = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1 || napi_get_value_external(env, argv[0], &data) != napi_ok)
    return fail(env, "cancel(job)");
  job_t *job = data;
  pthread_mutex_lock(&job->lock);
  if (!job->finished) {
    atomic_store(&job->cancelled, 1);
    shutdown(job->sock, SHUT_RDWR);  // wakes the thread's poll or sendfile at once
  }
  pthread_mutex_unlock(&job->lock);
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "start", NAPI_AUTO_LENGTH, start, NULL, &fn);
  napi_set_named_property(env, exports, "start", fn);
  napi_create_function(env, "cancel", NAPI_AUTO_LENGTH, cancel, NULL, &fn);
  napi_set_named_property(env, exports, "cancel", fn);
  return exports;
}
