package dev.baton.cli;

import dev.baton.gateway.Gateway;
import dev.baton.gateway.GatewayConfig;
import dev.baton.gateway.ModelTokenizer;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code baton gateway}: runs the OpenAI-compatible P/D-aware gateway until interrupted. */
@Command(
    name = "gateway",
    mixinStandardHelpOptions = true,
    description = "Run the OpenAI-compatible gateway in front of prefill/decode workers.")
public final class GatewayCommand implements Callable<Integer> {

  @Option(
      names = "--config",
      paramLabel = "FILE",
      description = "YAML config: pools, workers, policies (docs/GATEWAY.md).")
  Path config;

  @Option(
      names = "--port",
      paramLabel = "P",
      description = "Port to listen on (default: the config's port, else 8000).")
  Integer port;

  @Override
  public Integer call() throws Exception {
    GatewayConfig cfg = config == null ? GatewayConfig.defaults() : GatewayConfig.load(config);
    Gateway gateway = new Gateway(cfg, config, ModelTokenizer.load(cfg.tokenizer()));
    gateway.start(port != null ? port : cfg.port());
    System.err.println("baton gateway listening on http://" + cfg.host() + ":" + gateway.port());
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  gateway.close();
                  stopped.countDown();
                }));
    stopped.await();
    return 0;
  }
}
