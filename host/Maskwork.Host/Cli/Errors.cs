namespace Maskwork.Host.Cli;

/// <summary>A usage error: exit code 2 with the message and the verb's usage.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>A failure the user can act on: exit code 1 with a one-line reason.</summary>
public sealed class CommandException(string message) : Exception(message);
