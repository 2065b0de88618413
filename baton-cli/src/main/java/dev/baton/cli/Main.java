package dev.baton.cli;

import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code baton} command: one subcommand per user-facing job, listed in {@link #SUBCOMMANDS}.
 */
@Command(
    name = "baton",
    mixinStandardHelpOptions = true,
    version = "baton 0.1.0",
    description = "Prefill/decode disaggregated LLM serving.")
public final class Main {

  /** Every subcommand class; add new ones here (each is a picocli {@code @Command}). */
  static final List<Class<?>> SUBCOMMANDS =
      List.of(
          ModelCommand.class,
          GatewayCommand.class,
          KvBenchCommand.class,
          BenchCommand.class,
          UpCommand.class,
          StatusCommand.class,
          ScaleCommand.class,
          DownCommand.class,
          ServeCommand.class,
          GenerateCommand.class,
          DemoCommand.class,
          SimCommand.class,
          OperatorCommand.class);

  private Main() {}

  public static void main(String[] args) {
    System.exit(run(args));
  }

  /** Runs the CLI and returns its exit code (tests call this instead of {@link #main}). */
  public static int run(String... args) {
    CommandLine cli = new CommandLine(new Main());
    for (Class<?> sub : SUBCOMMANDS) {
      cli.addSubcommand(sub);
    }
    cli.setExecutionExceptionHandler(Main::handleFailure);
    return cli.execute(args);
  }

  /** Expected failures print one clear line; the stack trace only with BATON_DEBUG set. */
  private static int handleFailure(
      Exception e, CommandLine cmd, CommandLine.ParseResult parseResult) {
    String message = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    cmd.getErr().println("error: " + message);
    if (System.getenv("BATON_DEBUG") != null) {
      e.printStackTrace(cmd.getErr());
    }
    return 1;
  }
}
