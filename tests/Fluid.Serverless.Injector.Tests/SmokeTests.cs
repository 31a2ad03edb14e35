using Fluid.Serverless.Contracts;

namespace Fluid.Serverless.Injector.Tests;

public class ContractsTests
{
    [Fact]
    public void InjectLabel_IsFluidCompatible() => Assert.Equal("serverless.fluid.io/inject", Annotations.Inject);
}
