namespace Maskwork.EndToEnd.Tests;

/// <summary>One collection: the tests share one packed feed and template instance, and never compete for the two cores.</summary>
[CollectionDefinition(Name)]
public sealed class E2ECollection : ICollectionFixture<TemplateFixture>
{
    public const string Name = "maskwork end to end";
}
