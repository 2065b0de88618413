package dev.baton.control;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * What {@code baton status} shows: the cluster, its gateway, and one row per worker with its health
 * and the load read from its {@code /metrics}.
 */
public record StatusView(
    String name,
    String phase,
    String mode,
    String model,
    String gatewayUrl,
    boolean gatewayUp,
    int gatewayRestarts,
    List<WorkerRow> workers) {

  public StatusView {
    workers = workers == null ? List.of() : List.copyOf(workers);
  }

  /** One worker; load fields are {@code null} when its metrics could not be read. */
  public record WorkerRow(
      String id,
      String role,
      String group,
      int port,
      long pid,
      String health,
      int restarts,
      Double running,
      Double waiting,
      Double kvUsage,
      String engine,
      String lastError) {}

  /** The table as text. */
  public String render() {
    StringBuilder out = new StringBuilder();
    out.append(
        String.format(
            Locale.ROOT,
            "cluster %s (%s mode, %s)  gateway %s %s%s%n  model %s%n%n",
            name,
            mode,
            phase,
            gatewayUrl,
            gatewayUp ? "up" : "DOWN",
            gatewayRestarts == 0 ? "" : " (restarted " + gatewayRestarts + "x)",
            model));
    List<String[]> rows = new ArrayList<>();
    rows.add(
        new String[] {
          "ROLE",
          "GROUP",
          "WORKER",
          "PORT",
          "PID",
          "HEALTH",
          "RESTARTS",
          "RUNNING",
          "WAITING",
          "KV USAGE"
        });
    for (WorkerRow w : workers) {
      rows.add(
          new String[] {
            w.role(),
            w.group() == null ? "-" : w.group(),
            w.id(),
            Integer.toString(w.port()),
            w.pid() == 0 ? "-" : Long.toString(w.pid()),
            w.health(),
            Integer.toString(w.restarts()),
            w.running() == null ? "-" : Long.toString(Math.round(w.running())),
            w.waiting() == null ? "-" : Long.toString(Math.round(w.waiting())),
            w.kvUsage() == null ? "-" : String.format(Locale.ROOT, "%.1f%%", w.kvUsage() * 100)
          });
    }
    int[] widths = new int[rows.getFirst().length];
    for (String[] row : rows) {
      for (int i = 0; i < row.length; i++) {
        widths[i] = Math.max(widths[i], row[i].length());
      }
    }
    for (String[] row : rows) {
      StringBuilder line = new StringBuilder();
      for (int i = 0; i < row.length; i++) {
        line.append(String.format("%-" + (widths[i] + 2) + "s", row[i]));
      }
      out.append(line.toString().stripTrailing()).append('\n');
    }
    for (WorkerRow w : workers) {
      if (w.lastError() != null && !"healthy".equals(w.health())) {
        out.append("  ").append(w.id()).append(": ").append(w.lastError()).append('\n');
      }
    }
    return out.toString();
  }
}
