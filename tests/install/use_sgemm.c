/* A one-file program built against an installed netdx through pkg-config:
 * multiplies two 2x2 matrices with ndx_sgemm and checks the product. */
#include <netdx.h>
#include <stdio.h>

int main(void)
{
    if (ndx_init() != NDX_OK) {
        fprintf(stderr, "netdx: %s\n", ndx_last_error());
        return 1;
    }
    const float a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8};
    float c[4];
    ndx_sgemm(0, 0, 2, 2, 2, 1.0f, a, 2, b, 2, 0.0f, c, 2);
    const float want[4] = {19, 22, 43, 50};
    for (int i = 0; i < 4; i++)
        if (c[i] != want[i]) {
            fprintf(stderr, "c[%d] = %g, want %g\n", i, c[i], want[i]);
            return 1;
        }
    printf("ndx_sgemm ok (kernels: %s)\n", ndx_kernel_set());
    return 0;
}
