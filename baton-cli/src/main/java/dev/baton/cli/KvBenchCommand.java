package dev.baton.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code baton kv-bench}: the P/D transfer channel's bandwidth next to its baselines, measured in
 * one run (shared memory vs single-thread memcpy, TCP vs a plain socket copy between processes).
 */
@Command(
    name = "kv-bench",
    mixinStandardHelpOptions = true,
    description =
        "Measure KV transfer bandwidth (shared memory and TCP) against memcpy and sockets.")
final class KvBenchCommand implements Callable<Integer> {

  @Option(
      names = "--blocks",
      defaultValue = "128",
      description = "Blocks per pull, all in one message (default: ${DEFAULT-VALUE}).")
  int blocks;

  @Option(
      names = "--block-bytes",
      defaultValue = "524288",
      description =
          "Bytes per block; 524288 = 16 tokens of Llama-3.2-1B KV in F16 (default: ${DEFAULT-VALUE}).")
  long blockBytes;

  @Option(
      names = "--repetitions",
      defaultValue = "9",
      description =
          "Measured repetitions per path; medians are reported (default: ${DEFAULT-VALUE}).")
  int repetitions;

  @Override
  public Integer call() throws Exception {
    TransferBench.Report report =
        TransferBench.run(new TransferBench.Options(blocks, blockBytes, repetitions), System.out);
    System.out.print(report.format());
    return 0;
  }
}
