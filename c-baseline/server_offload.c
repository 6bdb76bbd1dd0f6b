/* server_offload.c: the C baseline with the same trick as `wasix-rt --offload`. The main
 * thread accepts and queues each connection; one helper thread, fed through a bounded queue
 * (mutex + condition variables), does send -> shutdown(SHUT_RDWR) -> close in order.
 * When the queue is full the main thread does the work inline, as wasix-rt does.
 * Build: c-baseline/build.sh. Run: ./target/c-baseline/server_offload [PORT] */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char RESPONSE[] = "HTTP/1.1 200 OK\r\n\r\nHello, World!";

#define QUEUE_LEN 4096
static int queue[QUEUE_LEN];
static size_t head, tail, count;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;

static void respond(int conn) {
  (void)send(conn, RESPONSE, sizeof RESPONSE - 1, MSG_NOSIGNAL);
  shutdown(conn, SHUT_RDWR);
  close(conn);
}

static void *helper(void *arg) {
  (void)arg;
  for (;;) {
    pthread_mutex_lock(&lock);
    while (count == 0) pthread_cond_wait(&not_empty, &lock);
    int conn = queue[head];
    head = (head + 1) % QUEUE_LEN;
    count--;
    pthread_mutex_unlock(&lock);
    respond(conn);
  }
  return NULL;
}

/* Queues conn for the helper; returns 0 when the queue is full. */
static int enqueue(int conn) {
  pthread_mutex_lock(&lock);
  if (count == QUEUE_LEN) {
    pthread_mutex_unlock(&lock);
    return 0;
  }
  queue[tail] = conn;
  tail = (tail + 1) % QUEUE_LEN;
  count++;
  pthread_cond_signal(&not_empty);
  pthread_mutex_unlock(&lock);
  return 1;
}

int main(int argc, char **argv) {
  int port = argc > 1 ? atoi(argv[1]) : 8080;
  signal(SIGPIPE, SIG_IGN);
  int listener = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  if (listener < 0) { perror("socket"); return 1; }
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)port);
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  if (bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0) { perror("bind"); return 1; }
  if (listen(listener, 100) < 0) { perror("listen"); return 1; }
  pthread_t t;
  if (pthread_create(&t, NULL, helper, NULL) != 0) { perror("pthread_create"); return 1; }
  for (;;) {
    int conn = accept(listener, NULL, NULL);
    if (conn < 0) continue;
    if (!enqueue(conn)) respond(conn);
  }
}
