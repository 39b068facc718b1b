/* patches.csv: ndx_patches_read of a folder holding a fixed manifest.csv
 * (three images) and the input as patches.csv (header, image paths looked
 * up in the manifest, boxes inside the image, splits, fractions). */
#include "fuzz.h"

static const char manifest[] =
    "patient_id,breast_density,left_or_right_breast,image_view,abnormality_id,"
    "abnormality_type,mass_shape,mass_margins,calc_type,calc_distribution,assessment,"
    "pathology,subtlety,image_path,mask_path\n"
    "P_00001,3,LEFT,CC,,,,,,,1,,,images/P_00001_LEFT_CC.png,\n"
    "P_00002,4,RIGHT,CC,1,mass,IRREGULAR,ILL_DEFINED,,,4,MALIGNANT,1,"
    "images/P_00002_RIGHT_CC.png,masks/P_00002_RIGHT_CC_1.png\n"
    "P_00003,3,RIGHT,CC,1,calcification,,,FINE_LINEAR_BRANCHING,LINEAR,4,MALIGNANT,5,"
    "images/P_00003_RIGHT_CC.png,masks/P_00003_RIGHT_CC_1.png\n";
static char patches[128];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    char path[128];
    snprintf(path, sizeof path, "%s/manifest.csv", fuzz_scratch());
    fuzz_write(path, manifest, sizeof manifest - 1);
    snprintf(patches, sizeof patches, "%s/patches.csv", fuzz_scratch());
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_write(patches, data, size);
    ndx_patch_index ix;
    fuzz_reset();
    ndx_status st = ndx_patches_read(fuzz_scratch(), &ix);
    fuzz_check(st, "ndx_patches_read");
    if (st == NDX_OK) {
        for (size_t i = 0; i < ix.n; i++) {
            const ndx_patch *p = &ix.patches[i];
            if (p->image < 0 || (size_t)p->image >= ix.nimages) abort();
            const ndx_patch_image *im = &ix.images[p->image];
            if (p->x < 0 || p->y < 0 || p->w < 1 || p->h < 1 || p->x > im->width - p->w ||
                p->y > im->height - p->h)
                abort();
        }
        ndx_patches_free(&ix);
    }
    return 0;
}
