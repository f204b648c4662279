package ksbridge.lab;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Launcher for every long-running JVM of the lab: it makes sure the JVM never outlives
 * whoever started it, then runs the real main class by reflection.
 *
 * <pre>
 *   java -cp LAB ksbridge.lab.Guard [--watch-pid PID] [--no-stdin] MainClass args...
 * </pre>
 *
 * By default a daemon thread reads stdin: end of file (the parent died or closed the pipe)
 * makes the JVM exit (System.exit, then Runtime.halt after a grace period). Each non-empty
 * line read before that is passed to {@code public static void onCommand(String)} of the
 * main class when it has one (the demo app's pause/resume). With {@code --watch-pid} the JVM
 * also exits when that process is gone (for shell scripts, which cannot keep a pipe open).
 */
public final class Guard {
  private static final long GRACE_MS = Long.getLong("ksb.guard.grace.ms", 10_000L);
  private static volatile boolean exiting;

  private Guard() {}

  public static void main(String[] args) throws Throwable {
    int i = 0;
    long watchPid = -1;
    boolean readStdin = true;
    while (i < args.length && args[i].startsWith("--")) {
      switch (args[i]) {
        case "--watch-pid" -> watchPid = Long.parseLong(args[++i]);
        case "--no-stdin" -> readStdin = false;
        default -> throw new IllegalArgumentException("Guard: unknown option " + args[i]);
      }
      i++;
    }
    if (i >= args.length) {
      System.err.println("usage: Guard [--watch-pid PID] [--no-stdin] MainClass args...");
      System.exit(2);
    }
    Class<?> mainClass = Class.forName(args[i]);
    String[] rest = Arrays.copyOfRange(args, i + 1, args.length);
    Method onCommand = null;
    try {
      onCommand = mainClass.getMethod("onCommand", String.class);
    } catch (NoSuchMethodException e) {
      // the main class takes no commands
    }
    if (readStdin) {
      final Method commands = onCommand;
      Thread t = new Thread(() -> readStdin(commands), "ksb-guard-stdin");
      t.setDaemon(true);
      t.start();
    }
    if (watchPid > 0) {
      final long pid = watchPid;
      Thread t = new Thread(() -> watch(pid), "ksb-guard-watch");
      t.setDaemon(true);
      t.start();
    }
    mainClass.getMethod("main", String[].class).invoke(null, (Object) rest);
  }

  private static void readStdin(Method onCommand) {
    try (BufferedReader in =
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
      String line;
      while ((line = in.readLine()) != null) {
        line = line.trim();
        if (line.isEmpty() || onCommand == null) continue;
        try {
          onCommand.invoke(null, line);
        } catch (Exception e) {
          System.err.println("Guard: command '" + line + "' failed: " + e);
        }
      }
    } catch (Exception e) {
      // treat a broken stdin like end of file
    }
    exit("stdin closed");
  }

  private static void watch(long pid) {
    while (true) {
      boolean alive = ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
      if (!alive) {
        exit("process " + pid + " is gone");
        return;
      }
      try {
        Thread.sleep(500);
      } catch (InterruptedException e) {
        return;
      }
    }
  }

  /** Exits the JVM: shutdown hooks first, a hard halt if they take longer than the grace period. */
  public static synchronized void exit(String why) {
    if (exiting) return;
    exiting = true;
    System.err.println("Guard: exiting (" + why + ")");
    Thread halter =
        new Thread(
            () -> {
              try {
                Thread.sleep(GRACE_MS);
              } catch (InterruptedException e) {
                // halt now
              }
              Runtime.getRuntime().halt(1);
            },
            "ksb-guard-halt");
    halter.setDaemon(true);
    halter.start();
    new Thread(() -> System.exit(0), "ksb-guard-exit").start();
  }
}
