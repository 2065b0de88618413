package dev.baton.cli;

import dev.baton.control.ClusterSpec;
import dev.baton.control.ClusterSpec.RoleSpec;
import dev.baton.control.EngineType;
import dev.baton.control.SpecException;
import dev.baton.control.WorkerPlan;
import dev.baton.core.Role;
import dev.baton.gateway.GatewayConfig;
import dev.baton.kv.KvTransferConfig;
import dev.baton.model.GgufFile;
import dev.baton.model.LlamaConfig;
import dev.baton.model.LlamaWeights;
import dev.baton.model.ModelFiles;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine;

/**
 * What {@code baton up} checks before it starts a single process or writes a run directory: the
 * model file opens and holds the tensors its header promises, every Baton worker's command line
 * parses, every role's {@code --kv-transfer-config} is valid, and the gateway accepts its config.
 * These are the mistakes that used to surface only as a worker that would not start.
 */
final class ClusterPreflight {

  private ClusterPreflight() {}

  /** Throws a {@link SpecException} listing every problem, or returns when there is none. */
  static void check(ClusterSpec spec, String model, String source) {
    List<String> problems = new ArrayList<>();
    checkModel(model, problems);
    for (var entry : spec.roles().entrySet()) {
      Role role = entry.getKey();
      RoleSpec roleSpec = entry.getValue();
      if (roleSpec.engine() != EngineType.BATON) {
        continue; // an external engine's flags are its own
      }
      List<String> args = new ArrayList<>(List.of("-m", model));
      args.addAll(spec.engine().args());
      args.addAll(roleSpec.args());
      try {
        new CommandLine(new ServeCommand()).parseArgs(args.toArray(String[]::new));
      } catch (CommandLine.ParameterException e) {
        problems.add("engine.args / roles." + role.wireName() + ".args: " + e.getMessage().strip());
      }
      if (spec.kvTransfer().enabled()) {
        try {
          KvTransferConfig.parse(
              WorkerPlan.kvTransferConfig(spec, role, Path.of("/run/baton/kv-secret")));
        } catch (IllegalArgumentException e) {
          problems.add("kvTransfer.config: " + e.getMessage());
        }
      }
    }
    try {
      GatewayConfig.parseYaml(WorkerPlan.gatewayConfig(spec, 8000, "preflight-token"));
    } catch (IllegalArgumentException e) {
      problems.add("gateway.config / gateway.pool: " + e.getMessage());
    }
    if (!problems.isEmpty()) {
      throw new SpecException(source, problems);
    }
  }

  private static void checkModel(String model, List<String> problems) {
    Path path = Path.of(model);
    String problem = ModelFiles.problem(path);
    if (problem != null) {
      problems.add("model: " + problem);
      return;
    }
    try (GgufFile file = GgufFile.open(path)) {
      LlamaWeights.of(file, LlamaConfig.fromGguf(file)); // every tensor within the file
    } catch (RuntimeException e) {
      problems.add("model: " + e.getMessage());
    }
  }
}
